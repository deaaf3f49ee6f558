"""The task ledger (台账) as an .xlsx workbook (pure: rows in, bytes out).

Text that a spreadsheet would read as a formula (starting with = + - @, or a tab
or carriage return that some programs skip before one) gets a leading
apostrophe, so a note typed by anyone can never run as a formula (CSV/formula
injection). openpyxl would otherwise store a string starting with "=" as a formula.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, fields
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel refuses these control characters in a cell (openpyxl raises IllegalCharacterError).
_ILLEGAL = {c: None for c in range(32) if c not in (9, 10, 13)}


@dataclass(frozen=True)
class LedgerRow:
    task_id: int
    plan_path: str
    measure: str
    lead_owner: str
    lead_department: str
    supporting: str
    start_date: date | None
    due_date: date | None
    status: str
    progress: int
    acceptance: str
    last_update: datetime | None  # naive, already in the organisation's time zone
    last_note: str
    evidence_count: int


COLUMN_WIDTHS = {"task_id": 8, "plan_path": 36, "measure": 48, "lead_owner": 12,
                 "lead_department": 14, "supporting": 20, "start_date": 12, "due_date": 12,
                 "status": 10, "progress": 8, "acceptance": 10, "last_update": 17,
                 "last_note": 48, "evidence_count": 8}


def safe_text(value: str) -> str:
    """Text as it may go into a cell: no formula, no characters Excel rejects."""
    value = value.translate(_ILLEGAL)
    if value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def build_workbook(rows: list[LedgerRow], headers: dict[str, str], title: str,
                   sheet_name: str = "Ledger") -> bytes:
    """``headers`` maps each LedgerRow field to its (translated) column title."""
    names = [f.name for f in fields(LedgerRow)]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = safe_text(sheet_name)[:31] or "Ledger"
    sheet.append([safe_text(title)])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([safe_text(headers[name]) for name in names])
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in rows:
        values = []
        for name in names:
            value = getattr(row, name)
            values.append(safe_text(value) if isinstance(value, str) else value)
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never "f", whatever the text
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    for position, name in enumerate(names, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = COLUMN_WIDTHS[name]
    sheet.freeze_panes = "A3"
    if rows:
        sheet.auto_filter.ref = f"A2:{get_column_letter(len(names))}{sheet.max_row}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
