"""The ledger (台账) as an .xlsx workbook: one row per measure, then the summary sheet.

Cells that a spreadsheet would read as a formula (= + - @, or a leading tab / CR)
get a leading apostrophe, so text typed by anyone never runs as a formula.
"""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from tracker.inputs import whole_number
from tracker.reports.document import Document, Table

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = {c: None for c in range(32) if c not in (9, 10, 13)}
MAX_WIDTH = 60


def safe_cell(value: str) -> str:
    value = (value or "").translate(_ILLEGAL)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _number(value: str):
    """Whole numbers stay numbers (sortable); everything else is text."""
    number = whole_number(value, maximum=999_999_999) if value == value.strip() else None
    return number if number is not None else safe_cell(value)


def _sheet(workbook, title: str, table: Table, first: bool) -> None:
    sheet = workbook.active if first else workbook.create_sheet()
    sheet.title = title[:31]
    sheet.append([safe_cell(h) for h in table.headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for row in table.rows:
        sheet.append([_number(v) if i in table.numeric else safe_cell(v)
                      for i, v in enumerate(row)])
    for index, header in enumerate(table.headers, start=1):
        longest = max([len(header)] + [len(r[index - 1]) for r in table.rows[:500]])
        sheet.column_dimensions[get_column_letter(index)].width = min(MAX_WIDTH, 4 + longest * 1.6)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions


def render_xlsx(document: Document, summary: Table | None = None) -> bytes:
    workbook = Workbook()
    _sheet(workbook, "台账" if document.lang.startswith("zh") else "Ledger", document.ledger,
           first=True)
    if summary is not None:
        _sheet(workbook, "汇总" if document.lang.startswith("zh") else "Summary", summary,
               first=False)
    workbook.properties.title = document.title[:250]
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
