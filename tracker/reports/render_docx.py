"""The report as an editable Word document (python-docx), for Word and WPS.

- Real heading styles ("Heading 1"–"Heading 4") carry the plan's own numbering in their
  text, so the navigation pane shows the plan's structure and nothing renumbers it.
- East Asian fonts are set on every style (``w:eastAsia`` on ``w:rFonts``, theme fonts
  removed): 仿宋 for the body and 黑体 for headings, with Times New Roman for Latin
  text. Without ``w:eastAsia`` Word and WPS pick a Chinese font of their own.
- Tables use "Table Grid"; the ledger sits in its own landscape section.
- Chart images are embedded PNGs; the footer holds a PAGE field.
"""
from __future__ import annotations

import io
from xml.sax.saxutils import escape

from docx import Document as new_document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Pt, RGBColor

from tracker.reports.document import ChartRef, Document, Heading, ItemList, Paragraph, Table

LATIN_FONT = "Times New Roman"
BODY_FONT = "仿宋"
HEADING_FONT = "黑体"
TITLE_FONT = "宋体"
HEADING_SIZES = {1: 16, 2: 14, 3: 13, 4: 12}
BLACK = RGBColor(0, 0, 0)


def set_fonts(element_with_rpr, latin: str, east_asia: str) -> None:
    """Set ascii/hAnsi and eastAsia fonts on a style's or run's rPr; drop theme fonts."""
    rpr = element_with_rpr.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:cs"), latin)


def _setup_styles(doc) -> None:
    styles = doc.styles
    normal = styles["Normal"]
    normal.font.size = Pt(12)
    set_fonts(normal.element, LATIN_FONT, BODY_FONT)
    normal.paragraph_format.space_after = Pt(2)
    normal.paragraph_format.line_spacing = 1.25
    for level, size in HEADING_SIZES.items():
        style = styles[f"Heading {level}"]
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.italic = False
        style.font.color.rgb = BLACK
        set_fonts(style.element, LATIN_FONT, HEADING_FONT)
        style.paragraph_format.space_before = Pt(10 if level == 1 else 6)
        style.paragraph_format.space_after = Pt(4)
        style.paragraph_format.keep_with_next = True
    title = styles["Title"]
    title.font.size = Pt(20)
    title.font.bold = True
    title.font.color.rgb = BLACK
    set_fonts(title.element, LATIN_FONT, TITLE_FONT)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    # The default Title style draws a blue rule under the text: remove it.
    ppr = title.element.get_or_add_pPr()
    border = ppr.find(qn("w:pBdr"))
    if border is not None:
        ppr.remove(border)
    table_style = styles["Table Grid"]
    table_style.font.size = Pt(9)


def _page_number(section) -> None:
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"),
                       ("end", None)):
        if kind is not None:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        elif text == " PAGE ":
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        else:
            element = OxmlElement("w:t")
            element.text = text
        run._r.append(element)


def _cell_xml(text: str, *, bold: bool = False, right: bool = False) -> str:
    paragraph = '<w:pPr><w:jc w:val="right"/></w:pPr>' if right else ""
    run = "<w:rPr><w:b/></w:rPr>" if bold else ""
    content = f'<w:r>{run}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>' if text else ""
    return f"<w:tc><w:p>{paragraph}{content}</w:p></w:tc>"


def _table(doc, table: Table) -> None:
    """A "Table Grid" table. Rows are written as XML directly: python-docx's cell API
    recomputes the grid on every access, which costs seconds for a 300-row ledger."""
    if table.caption:
        caption = doc.add_paragraph()
        caption.add_run(table.caption).bold = True
    grid = doc.add_table(rows=0, cols=len(table.headers))
    grid.style = doc.styles["Table Grid"]
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    header = ("<w:tr %s><w:trPr><w:tblHeader/></w:trPr>%s</w:tr>"
              % (nsdecls("w"), "".join(_cell_xml(h, bold=True) for h in table.headers)))
    tbl = grid._tbl
    tbl.append(parse_xml(header))
    for values in table.rows:
        cells = "".join(_cell_xml(v, right=i in table.numeric) for i, v in enumerate(values))
        tbl.append(parse_xml(f"<w:tr {nsdecls('w')}>{cells}</w:tr>"))


def _landscape(doc):
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    section.left_margin = section.right_margin = Cm(1.5)
    return section


def render_docx(document: Document, charts: dict[str, bytes]) -> bytes:
    doc = new_document()
    _setup_styles(doc)
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    _page_number(section)
    doc.core_properties.title = document.title
    doc.core_properties.language = "zh-CN" if document.lang.startswith("zh") else "en"

    doc.add_paragraph(document.title, style="Title")
    subtitle = doc.add_paragraph(document.subtitle)
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER

    for block in document.blocks:
        if isinstance(block, Heading):
            if block.anchor == "ledger":
                _landscape(doc)
            doc.add_heading(block.text, level=min(block.level, 4))
        elif isinstance(block, Paragraph):
            paragraph = doc.add_paragraph(block.text)
            paragraph.paragraph_format.first_line_indent = Pt(24)
        elif isinstance(block, ItemList):
            title = doc.add_paragraph()
            title.add_run(block.title).bold = True
            for item in block.items:
                paragraph = doc.add_paragraph()
                paragraph.paragraph_format.first_line_indent = Pt(24)
                paragraph.add_run(item.lead).bold = True
                if item.text:
                    paragraph.add_run("　" + item.text)
        elif isinstance(block, Table):
            _table(doc, block)
        elif isinstance(block, ChartRef) and block.key in charts:
            doc.add_picture(io.BytesIO(charts[block.key]), width=Cm(15))
            doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            caption = doc.add_paragraph(block.caption)
            caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
