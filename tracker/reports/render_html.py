"""The report as one self-contained, print-friendly HTML file (charts inlined as PNG).

The same HTML is the web page, the downloadable .html and WeasyPrint's input for the
PDF. Rendered with a plain Jinja environment (autoescaped) over
``templates/reports/``, so it works in a request, a CLI command or a background
thread alike.
"""
from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from tracker.reports.document import ChartRef, Document, Heading, ItemList, Paragraph, Table

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "reports"
# Serif (宋体-like) body, sans (黑体-like) headings; the Noto CJK families come first so
# WeasyPrint never falls back to a font without Chinese glyphs.
# One family (regular and bold) keeps the PDF's font subsetting to two faces.
BODY_FONTS = ('"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
              '"SimSun", sans-serif')
HEADING_FONTS = '"Noto Sans CJK SC", "Source Han Sans SC", "SimHei", "Microsoft YaHei", sans-serif'


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.tests.update(heading=lambda b: isinstance(b, Heading),
                     paragraph=lambda b: isinstance(b, Paragraph),
                     itemlist=lambda b: isinstance(b, ItemList),
                     table=lambda b: isinstance(b, Table),
                     chart=lambda b: isinstance(b, ChartRef))
    return env


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_html(document: Document, charts: dict[str, bytes], *, for_pdf: bool = False) -> str:
    template = environment().get_template("document.html")
    return template.render(doc=document, charts={k: data_uri(v) for k, v in charts.items()},
                           lang="zh-CN" if document.lang.startswith("zh") else "en",
                           body_fonts=BODY_FONTS, heading_fonts=HEADING_FONTS,
                           for_pdf=for_pdf, pdf_columns=pdf_columns,
                           ledger_line=ledger_line)


# Ledger columns in the PDF: no., plan item, measure, department, due, status, completed,
# evidence (the XLSX and DOCX have them all).
PDF_LEDGER_COLUMNS = (0, 1, 2, 3, 5, 6, 8, 9)


def pdf_columns(table: Table) -> list[int]:
    if len(table.headers) > max(PDF_LEDGER_COLUMNS):
        return list(PDF_LEDGER_COLUMNS)
    return list(range(len(table.headers)))


def ledger_line(row: list[str], columns: list[int], limit: int = 60) -> str:
    """A ledger row as one line of text (plain text: inline boxes cost WeasyPrint time)."""
    cells = [row[i] if len(row[i]) <= limit else row[i][: limit - 1] + "…" for i in columns]
    return " · ".join(cell for cell in cells if cell)
