"""The four files of the demo report: DOCX headings and fonts, PDF text and embedded
fonts, XLSX rows, HTML sections."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile

import pytest

from tests.reports.conftest import DEMO_NOW, build_interleaved_plan, section_titles
from tracker.extensions import db
from tracker.models import Plan
from tracker.reports import services
from tracker.reports.document import Document, Table
from tracker.reports.render_xlsx import render_xlsx


@pytest.fixture
def demo_files(app, demo):
    with app.app_context():
        plan = db.session.get(Plan, demo["plan"])
        output = services.build_school(plan, list(services.FORMATS), now=DEMO_NOW)
        return output, section_titles(demo["plan"])


def test_docx_has_one_heading_per_plan_section_and_chinese_fonts(demo_files):
    from docx import Document as open_docx

    output, sections = demo_files
    doc = open_docx(io.BytesIO(output.files["docx"]))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    for title in sections:
        assert headings.count(title) == 1, title
    # Plan sections keep their depth: （一） is one level below 3、工作措施.
    levels = {p.text: p.style.name for p in doc.paragraphs if p.text in sections}
    assert levels[sections[0]] == "Heading 1" and levels[sections[1]] == "Heading 2"
    assert doc.paragraphs[0].text.endswith("工作计划执行、完成情况")
    xml = zipfile.ZipFile(io.BytesIO(output.files["docx"]))
    styles = xml.read("word/styles.xml").decode()
    assert 'w:eastAsia="黑体"' in styles and 'w:eastAsia="仿宋"' in styles
    assert "eastAsiaTheme" not in re.search(r'w:styleId="Heading1".*?</w:style>', styles,
                                            re.S).group(0)
    footers = "".join(xml.read(n).decode() for n in xml.namelist() if "footer" in n)
    assert "PAGE" in footers
    assert len(doc.inline_shapes) == len(output.document.charts) >= 2
    assert len(doc.tables) >= 3  # figures, departments, ledger
    ledger = doc.tables[-1]
    assert len(ledger.rows) == len(output.document.ledger.rows) + 1


def test_pdf_shows_the_chinese_headings_with_embedded_fonts(demo_files):
    from pypdf import PdfReader

    output, sections = demo_files
    reader = PdfReader(io.BytesIO(output.files["pdf"]))
    text = "".join(page.extract_text() for page in reader.pages)
    compact = re.sub(r"\s+", "", text)
    assert "工作计划执行、完成情况" in compact
    for title in sections:
        # Long headings wrap; their first 12 characters are on one line.
        assert re.sub(r"\s+", "", title)[:12] in compact, title
    embedded, names = 0, set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            names.add(str(font["/BaseFont"]))
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object().get("/FontDescriptor")
                if descriptor is not None and any(
                        k in descriptor.get_object() for k in ("/FontFile", "/FontFile2",
                                                               "/FontFile3")):
                    embedded += 1
    assert embedded >= 1 and any("CJK" in n for n in names), names


def test_pdf_fonts_with_pdffonts_when_installed(demo_files, tmp_path):
    if not shutil.which("pdffonts"):
        pytest.skip("pdffonts not installed (apt-get install poppler-utils)")
    output, _ = demo_files
    path = tmp_path / "r.pdf"
    path.write_bytes(output.files["pdf"])
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert lines and all(line.split()[-5] == "yes" for line in lines), lines  # emb column


def test_without_a_cjk_font_the_pdf_is_refused(monkeypatch):
    """WeasyPrint would silently drop every Chinese character: we refuse instead."""
    from tracker.reports import render_pdf

    monkeypatch.setattr(render_pdf, "cjk_fonts", lambda: ("DejaVu Sans",))
    document = Document("zh_CN", "标题", "", [], Table([], []), "", [], "x")
    with pytest.raises(render_pdf.PdfError, match="fonts-noto-cjk"):
        render_pdf.render_pdf(document, {})


def test_xlsx_has_one_row_per_measure(demo_files):
    from openpyxl import load_workbook

    output, _ = demo_files
    book = load_workbook(io.BytesIO(output.files["xlsx"]))
    sheet = book["台账"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(output.report.measures)
    assert [r[2] for r in rows] == [m.title for m in output.report.measures]
    assert sheet.cell(1, 1).value == "序号"
    assert "汇总" in book.sheetnames


def test_xlsx_cells_never_become_formulas():
    from openpyxl import load_workbook

    ledger = Table(["措施", "记录"], [["=HYPERLINK(\"http://x\")", "+1"], ["@SUM(A1)", "-2"]])
    document = Document("zh_CN", "t", "", [], ledger, "", [], "x")
    sheet = load_workbook(io.BytesIO(render_xlsx(document))).active
    values = [c.value for row in sheet.iter_rows(min_row=2) for c in row]
    assert values == ["'=HYPERLINK(\"http://x\")", "'+1", "'@SUM(A1)", "'-2"]
    assert all(c.data_type == "s" for row in sheet.iter_rows(min_row=2) for c in row)


def test_html_is_self_contained_and_escaped(demo_files):
    output, sections = demo_files
    html = output.files["html"].decode()
    assert html.count('class="plan-section"') == len(sections)
    assert "<script" not in html and "http://" not in html.replace("http://www.w3", "")
    assert html.count("data:image/png;base64,") == len(output.document.charts)


def test_every_format_keeps_measures_and_sub_sections_in_the_plans_order(app, make_org,
                                                                          make_term):
    """1. before （一） before 2. and 3. of 一、, in the DOCX, the PDF, the HTML and the
    ledger alike."""
    from datetime import date, datetime, timezone

    from docx import Document as open_docx
    from openpyxl import load_workbook
    from pypdf import PdfReader

    with app.app_context():
        org = make_org("交错小学")
        plan = build_interleaved_plan(org, make_term(org), today=date(2025, 1, 10))
        db.session.commit()
        output = services.build_school(plan, list(services.FORMATS),
                                       now=datetime(2025, 1, 10, 4, tzinfo=timezone.utc))
    order = ["一、德育工作", "1.开好升旗仪式", "（一）班主任队伍建设", "2.开展班主任培训",
             "一、德育工作（续）：已完成", "2.办好家长学校", "3.做好心理健康教育", "二、教学工作"]

    def in_order(text):
        text = re.sub(r"\s+", "", text)
        at = [text.find(part, text.find(order[0])) for part in order]
        assert -1 not in at and at == sorted(at), dict(zip(order, at))

    in_order("\n".join(p.text for p in open_docx(io.BytesIO(output.files["docx"])).paragraphs))
    in_order(re.sub(r"<[^>]+>", "", output.files["html"].decode()))
    in_order("".join(page.extract_text() for page in
                     PdfReader(io.BytesIO(output.files["pdf"])).pages))
    sheet = load_workbook(io.BytesIO(output.files["xlsx"]))["台账"]
    assert [r[2] for r in sheet.iter_rows(min_row=2, values_only=True)] == [
        "开好升旗仪式", "每月召开班主任例会", "开展班主任培训", "办好家长学校", "做好心理健康教育",
        "开展集体备课"]
