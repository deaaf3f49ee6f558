"""The report as PDF: WeasyPrint lays out the report's HTML with the Noto CJK fonts.

WeasyPrint silently drops characters that no available font has, so a machine without
a CJK font would produce a PDF with the Chinese missing. ``check_cjk_font`` asks
fontconfig for a Chinese font first and refuses to render without one. The fonts used
are subset and embedded in the PDF (FontFile3 / CFF for Noto CJK).
"""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

from tracker.reports.document import Document
from tracker.reports.render_html import render_html

CJK_FAMILIES = ("Noto Serif CJK SC", "Noto Sans CJK SC", "Source Han Serif SC",
                "Source Han Sans SC", "SimSun", "SimHei")


class PdfError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def cjk_fonts() -> tuple[str, ...]:
    """Chinese-capable font families fontconfig knows about (empty: none)."""
    if not shutil.which("fc-list"):
        return ()
    result = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                            timeout=20, check=False)
    families = set()
    for line in result.stdout.splitlines():
        families.update(name.strip() for name in line.split(","))
    return tuple(sorted(f for f in families if f))


def check_cjk_font() -> None:
    available = cjk_fonts()
    if not any(family in available for family in CJK_FAMILIES):
        raise PdfError("No Chinese font for the PDF (WeasyPrint would drop every Chinese "
                       "character): install fonts-noto-cjk")


def render_pdf(document: Document, charts: dict[str, bytes], html: str | None = None) -> bytes:
    check_cjk_font()
    from weasyprint import HTML

    source = html if html is not None else render_html(document, charts, for_pdf=True)
    return HTML(string=source).write_pdf()
