"""Reader tests on files generated here: text encodings, .docx (incl. automatic list
numbering), .xlsx task tables, errors, and the ``flask plan parse`` command."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import qn
from openpyxl import Workbook

from tracker.plans.hints import TermCalendar
from tracker.plans.parsing import iter_measures
from tracker.plans.readers import (
    PlanReadError,
    decode_text,
    format_number,
    load_plan,
    read_upload,
)

PLAN = ("学校工作计划\n一、教学工作\n1.加强备课。\n2.三月份开展公开课。\n"
        "二、德育工作\n1.开展升旗仪式。\n")
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16"])
def test_text_encodings_are_detected(encoding):
    result = read_upload(PLAN.encode(encoding), "plan.txt")
    assert result.kind == "text" and result.text == PLAN


def test_markdown_headings_are_unmarked():
    result = read_upload("# 学校工作计划\n## 一、教学\n1. 备课\n".encode(), "plan.md")
    assert result.text == "学校工作计划\n一、教学\n1. 备课\n"


def test_load_plan_parses_text_files():
    plan = load_plan(PLAN.encode("gbk"), "计划.TXT",
                     calendar=TermCalendar(start=date(2021, 2, 22), end=date(2021, 7, 2)))
    assert [p for p, _ in iter_measures(plan)] == [["一", "1"], ["一", "2"], ["二", "1"]]
    assert plan.nodes[0].children[1].hints.to_dict()["due"] == "2021-03-31"


@pytest.mark.parametrize("data, filename, message", [
    (b"", "plan.txt", "empty"),
    (b"  \n\r\n ", "plan.txt", "empty"),
    (b"", "plan.docx", "empty"),
    (b"data", "plan.pdf", "Unsupported file type .pdf"),
    (b"data", "plan", "Unsupported file type (none)"),
    (b"data", "plan.doc", "save the file again"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "plan.docx", "PNG image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "plan.txt", "PNG image"),
    (bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 100, "plan.docx", "password-protected"),
    (bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 100, "plan.xlsx", "password-protected"),
    (b"just some text", "plan.docx", "not a valid .docx"),
    (b"PK\x03\x04broken", "plan.docx", "damaged"),
])
def test_read_errors_are_specific(data, filename, message):
    with pytest.raises(PlanReadError) as error:
        read_upload(data, filename)
    assert message in str(error.value)


def test_size_limit():
    with pytest.raises(PlanReadError, match="too large"):
        read_upload(PLAN.encode() * 10, "plan.txt", max_bytes=100)
    assert read_upload(PLAN.encode(), "plan.txt", max_bytes=1000).text == PLAN


def test_zip_that_is_not_a_docx():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(PlanReadError, match="word/document.xml is missing"):
        read_upload(buffer.getvalue(), "plan.docx")


def test_binary_text_file_is_refused():
    with pytest.raises(PlanReadError):
        decode_text(bytes(range(256)) * 4)


# --------------------------------------------------------------------------- docx


def _docx_bytes(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_body_order_with_tables():
    document = docx.Document()
    document.add_paragraph("学校工作计划")
    document.add_paragraph("一、教学工作")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "周次", "内容"
    table.cell(1, 0).text, table.cell(1, 1).text = "第一周", "开学典礼"
    document.add_paragraph("二、德育工作")
    text = read_upload(_docx_bytes(document), "plan.docx").text
    assert text.split("\n") == ["学校工作计划", "一、教学工作", "周次 | 内容", "第一周 | 开学典礼",
                                "二、德育工作"]


def test_docx_task_table_becomes_numbered_measures():
    document = docx.Document()
    document.add_paragraph("2025年重点工作任务")
    table = document.add_table(rows=3, cols=3)
    for col, name in enumerate(["工作任务", "牵头单位", "完成时限"]):
        table.cell(0, col).text = name
    for row, values in enumerate([("完善课程体系", "教务处", "2025年6月底前"),
                                  ("开展安全演练", "安全办", "每学期")], start=1):
        for col, value in enumerate(values):
            table.cell(row, col).text = value
    plan = load_plan(_docx_bytes(document), "plan.docx")
    measures = list(iter_measures(plan))
    assert [p for p, _ in measures] == [["1"], ["2"]]
    hints = measures[0][1].hints.to_dict()
    assert hints["owners"] == ["教务处"] and hints["due"] == "2025-06-30"
    assert measures[1][1].hints.to_dict()["recurrence"] == "termly"


LEVELS = [("chineseCounting", "%1、"), ("chineseCounting", "（%2）"), ("decimal", "%3."),
          ("decimalEnclosedCircle", "%4")]
NUMBERING = (f'<w:abstractNum {W_NS} w:abstractNumId="90">' + "".join(
    f'<w:lvl w:ilvl="{level}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>'
    f'<w:lvlText w:val="{text}"/></w:lvl>' for level, (fmt, text) in enumerate(LEVELS))
    + "</w:abstractNum>")


def _numbered_docx(items: list[tuple[int | None, str]], num_ids=("90",), restart=False) -> bytes:
    document = docx.Document()
    numbering = document.part.numbering_part.element
    first_num = numbering.find(qn("w:num"))
    abstract = parse_xml(NUMBERING)
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    numbering.append(parse_xml(f'<w:num {W_NS} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    numbering.append(parse_xml(
        f'<w:num {W_NS} w:numId="91"><w:abstractNumId w:val="90"/>'
        f'<w:lvlOverride w:ilvl="2"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'))
    document.add_paragraph("学校工作计划")
    for index, (level, text) in enumerate(items):
        paragraph = document.add_paragraph(text)
        if level is None:
            continue
        num_id = "91" if restart and index >= len(items) - 2 else "90"
        p_pr = paragraph._p.get_or_add_pPr()
        p_pr.append(parse_xml(f'<w:numPr {W_NS}><w:ilvl w:val="{level}"/>'
                              f'<w:numId w:val="{num_id}"/></w:numPr>'))
    return _docx_bytes(document)


def test_docx_automatic_numbering_is_rebuilt():
    data = _numbered_docx([(0, "教学工作"), (1, "课堂"), (2, "备课。"), (2, "上课。"),
                           (3, "细节。"), (1, "教研"), (None, "本节说明。"), (0, "德育工作"),
                           (2, "升旗。")])
    lines = read_upload(data, "plan.docx").text.split("\n")
    assert lines == ["学校工作计划", "一、教学工作", "（一）课堂", "1.备课。", "2.上课。",
                     "①细节。", "（二）教研", "本节说明。", "二、德育工作", "1.升旗。"]
    plan = load_plan(data, "plan.docx")
    assert plan.title == "学校工作计划"
    assert [p for p, _ in iter_measures(plan)] == [
        ["一", "（一）", "1"], ["一", "（一）", "2", "①"], ["一", "（二）"], ["二", "1"]]


def test_docx_start_override_restarts_a_level():
    data = _numbered_docx([(0, "甲"), (2, "a。"), (2, "b。"), (2, "c。"), (2, "d。")], restart=True)
    lines = read_upload(data, "plan.docx").text.split("\n")
    assert lines[1:] == ["一、甲", "1.a。", "2.b。", "1.c。", "2.d。"]


@pytest.mark.parametrize("value, fmt, expected", [
    (3, "chineseCounting", "三"), (12, "chineseCountingThousand", "十二"), (4, "decimal", "4"),
    (2, "decimalEnclosedCircle", "②"), (3, "decimalEnclosedParen", "⑶"), (9, "upperRoman", "IX"),
    (2, "lowerLetter", "b"), (1, "ideographTraditional", "甲"), (5, "decimalZero", "05"),
    (7, "decimalFullWidth", "７"),
])
def test_word_number_formats(value, fmt, expected):
    assert format_number(value, fmt) == expected


# --------------------------------------------------------------------------- xlsx


def _xlsx(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_task_table():
    data = _xlsx([
        ["2024—2025学年重点工作任务分解表"],
        [],
        ["序号", "类别", "工作任务", "牵头单位", "配合单位", "完成时限"],
        [1, "教学", "完善课程体系，优秀率达到90%", "教务处", "各教研组", "2025年6月底前"],
        [2, None, "开展公开课", "课程中心", None, datetime(2025, 3, 15)],
        [None, None, None, None, None, None],
        [3, "德育", "每月开展主题班会", "德育处、少先队", None, "每月"],
    ])
    calendar = TermCalendar(start=date(2025, 2, 17), end=date(2025, 7, 4))
    plan = load_plan(data, "tasks.xlsx", calendar=calendar, departments=["课程中心"])
    assert plan.title == "2024—2025学年重点工作任务分解表"
    measures = list(iter_measures(plan))
    assert [p for p, _ in measures] == [["一", "1"], ["一", "2"], ["二", "3"]]
    assert [n.heading for n in plan.nodes] == ["教学", "德育"]
    first, second, third = (node.hints.to_dict() for _, node in measures)
    assert first["owners"] == ["教务处", "各教研组"] and first["due"] == "2025-06-30"
    assert first["target"] == "优秀率达到90%"
    assert second["due"] == "2025-03-15" and second["owners"] == ["课程中心"]
    assert third["owners"] == ["德育处", "少先队"] and third["recurrence"] == "monthly"
    assert measures[2][1].line == 7


def test_xlsx_without_header_lists_the_names_it_looked_for():
    data = _xlsx([["姓名", "电话"], ["张三", "123"]])
    with pytest.raises(PlanReadError) as error:
        read_upload(data, "tasks.xlsx")
    assert "No task-table header" in str(error.value)
    assert "工作任务" in str(error.value) and "牵头单位" in str(error.value)


# --------------------------------------------------------------------------- CLI


def test_cli_parse_json(runner, tmp_path):
    path = tmp_path / "plan.txt"
    path.write_text(PLAN, encoding="gb18030")
    result = runner.invoke(args=["plan", "parse", str(path), "--json", "--term-start",
                                 "2021-02-22", "--term-end", "2021-07-02"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["title"] == "学校工作计划"
    assert data["nodes"][0]["children"][1]["hints"]["due"] == "2021-03-31"


def test_cli_parse_outline(runner, tmp_path):
    path = tmp_path / "plan.txt"
    path.write_text(PLAN, encoding="utf-8")
    result = runner.invoke(args=["plan", "parse", str(path), "--lang", "en"])
    assert result.exit_code == 0
    assert "▸ 一、 教学工作" in result.stdout and "Measures: 3" in result.stdout


# Line 4 restarts the numbering of 一、; line 5 skips 2.
NOTED_PLAN = "学校工作计划\n一、教学工作\n1.加强备课。\n1.开展公开课。\n3.开展升旗仪式。\n"


def test_flask_plan_parse_says_its_notes_in_the_apps_language(runner, tmp_path):
    """``flask plan parse`` speaks BABEL_DEFAULT_LOCALE (Chinese) unless told otherwise."""
    path = tmp_path / "plan.txt"
    path.write_text(NOTED_PLAN, encoding="utf-8")
    result = runner.invoke(args=["plan", "parse", str(path)])
    assert result.exit_code == 0, result.output
    assert "第 4 行：编号从 1. 重新开始。" in result.stdout
    assert "第 5 行：3. 的编号不连续（应为 2）。" in result.stdout
    assert "措施：3" in result.stdout and "restarts" not in result.stdout
    assert "Warning" not in result.stdout and "Measures" not in result.stdout
    english = runner.invoke(args=["plan", "parse", str(path), "--lang", "en"])
    assert english.exit_code == 0, english.output
    assert "Line 4: the numbering starts again at 1." in english.stdout
    assert "Measures: 3" in english.stdout and "第 4 行" not in english.stdout
    assert runner.invoke(args=["plan", "parse", str(path), "--lang", "fr"]).exit_code == 2


def test_flask_plan_parse_follows_babel_default_locale(app, tmp_path):
    path = tmp_path / "plan.txt"
    path.write_text(NOTED_PLAN, encoding="utf-8")
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    runner = app.test_cli_runner()
    assert "Line 4: the numbering starts again at 1." in runner.invoke(
        args=["plan", "parse", str(path)]).stdout
    assert "第 4 行：编号从 1. 重新开始。" in runner.invoke(
        args=["plan", "parse", str(path), "--lang", "zh"]).stdout


def test_flask_plan_parse_json_keeps_its_shape_and_adds_translated_notes(runner, tmp_path):
    path = tmp_path / "plan.txt"
    path.write_text(NOTED_PLAN, encoding="utf-8")
    result = runner.invoke(args=["plan", "parse", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # The stable shape: the parse tree's keys, the warnings as the parser's English text.
    assert set(data) - {"notes"} == {"title", "preamble", "trailer", "noise", "nodes",
                                     "warnings"}
    assert data["warnings"] == ["line 4: numbering restarts at 1.",
                                "line 5: 3. is out of sequence (expected 2)"]
    assert data["notes"] == [
        {"code": "restart", "params": {"line": 4, "label": "1."},
         "message": "第 4 行：编号从 1. 重新开始。"},
        {"code": "sequence", "params": {"line": 5, "label": "3.", "expected": 2},
         "message": "第 5 行：3. 的编号不连续（应为 2）。"},
    ]
    english = json.loads(runner.invoke(args=["plan", "parse", str(path), "--json", "--lang",
                                             "en"]).stdout)
    assert english["warnings"] == data["warnings"]
    assert english["notes"][0]["message"].startswith("Line 4: the numbering starts again at 1.")


def test_flask_plan_parse_errors_in_the_apps_language(runner, tmp_path):
    path = tmp_path / "plan.txt"
    path.write_bytes(b"")
    result = runner.invoke(args=["plan", "parse", str(path)])
    assert result.exit_code == 1 and "文件为空" in result.output
    result = runner.invoke(args=["plan", "parse", str(path), "--lang", "en"])
    assert result.exit_code == 1 and "The file is empty." in result.output


def test_empty_task_table_note_is_translated(runner, tmp_path):
    path = tmp_path / "tasks.xlsx"
    path.write_bytes(_xlsx([["任务", "牵头单位", "完成时限"]]))
    data = json.loads(runner.invoke(args=["plan", "parse", str(path), "--json"]).stdout)
    assert data["warnings"] == ["the task table has a header but no task rows"]
    assert data["notes"][0]["code"] == "empty_table"
    assert "the task table" not in data["notes"][0]["message"]


@pytest.mark.parametrize("content, args, message", [
    (b"", [], "The file is empty."),
    (b"\x89PNG\r\n\x1a\n\x00\x00", [], "not text"),
    (PLAN.encode(), ["--term-start", "2021-02-22"], "must be given together"),
])
def test_cli_errors_exit_1_with_one_line(runner, tmp_path, content, args, message):
    path = tmp_path / "plan.txt"
    path.write_bytes(content)
    result = runner.invoke(args=["plan", "parse", str(path), "--lang", "en", *args])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0 and result.stdout == ""


def test_cli_missing_file(runner, tmp_path):
    result = runner.invoke(args=["plan", "parse", str(tmp_path / "nope.docx"), "--lang", "en"])
    assert result.exit_code == 1 and "Cannot read" in result.stderr
    result = runner.invoke(args=["plan", "parse", str(tmp_path / "nope.docx")])
    assert result.exit_code == 1 and "无法读取" in result.stderr
