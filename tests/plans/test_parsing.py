"""Parser tests: the five annotated sample plans, then general numbering shapes."""
from __future__ import annotations

import json

import pytest

from tests.plans.conftest import PLANS_DIR, load_sample, sample_files, sample_ids
from tracker.plans.parsing import (
    FLAT_WARNING,
    Node,
    ParsedPlan,
    count_chars,
    detect_marker,
    iter_measures,
    iter_nodes,
    parse_plan,
    text_start,
)


def _ws(text: str) -> str:
    return "".join(text.split())


def _sections(nodes: list[Node]) -> list[dict]:
    return [{"number": node.number, "heading": node.heading, "children": _sections(node.children)}
            for node in nodes if node.kind == "section"]


def _strip_expected(sections: list[dict]) -> list[dict]:
    return [{"number": s["number"], "heading": s["heading"],
             "children": _strip_expected(s["children"])} for s in sections]


# --------------------------------------------------------------------------- sample plans

SAMPLES = pytest.mark.parametrize("path", sample_files() or [PLANS_DIR / "missing.txt"],
                                  ids=sample_ids())


@SAMPLES
def test_sample_measure_paths_exact(plans_dir, path):
    text, expected = load_sample(path)
    parsed = parse_plan(text)
    paths = [path_ for path_, _ in iter_measures(parsed)]
    assert paths == [m["path"] for m in expected["measures"]]
    assert len(paths) == expected["measure_count"]


@SAMPLES
def test_sample_text_start_exact(plans_dir, path):
    text, expected = load_sample(path)
    parsed = parse_plan(text)
    got = {tuple(p): _ws(text_start(node)) for p, node in iter_measures(parsed)}
    for measure in expected["measures"]:
        assert got[tuple(measure["path"])] == _ws(measure["text_start"]), measure["path"]


@SAMPLES
def test_sample_title_and_sections(plans_dir, path):
    text, expected = load_sample(path)
    parsed = parse_plan(text)
    assert parsed.title == expected["title"]
    assert _sections(parsed.nodes) == _strip_expected(expected["sections"])


@SAMPLES
def test_sample_loses_no_text(plans_dir, path):
    text, _ = load_sample(path)
    parsed = parse_plan(text)
    assert count_chars(parsed.accounted_text()) == count_chars(text)


@SAMPLES
def test_sample_to_dict_shape_is_stable(plans_dir, path):
    text, _ = load_sample(path)
    data = parse_plan(text).to_dict()
    assert set(data) == {"title", "preamble", "trailer", "noise", "nodes", "warnings"}
    json.dumps(data, ensure_ascii=False)
    for node in _walk(data["nodes"]):
        assert set(node) == {"label", "number", "level", "heading", "text", "kind", "hints",
                             "children", "line"}
        assert node["kind"] in ("section", "measure")
        assert set(node["hints"]) == {"owners", "due", "time_phrase", "recurrence", "target"}
        assert isinstance(node["line"], int) and node["line"] >= 1


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node["children"])


def _hint_parts(value) -> list[str]:
    if not value:
        return []
    return value if isinstance(value, list) else value.split(" / ")


def _contains(a: str, b: str) -> bool:
    a, b = _ws(a), _ws(b)
    return a in b or b in a


def hint_agreement() -> dict[str, tuple[int, int]]:
    """Per hint type: (measures whose hints agree leniently, measures compared).

    Agreement: both empty, or every expected phrase is contained in (or contains) a
    produced phrase.
    """
    counts = {"owner": [0, 0], "time": [0, 0], "target": [0, 0]}
    for path in sample_files():
        text, expected = load_sample(path)
        got = {tuple(p): node.hints.to_dict() for p, node in iter_measures(parse_plan(text))}
        for measure in expected["measures"]:
            hints = got[tuple(measure["path"])]
            produced = {"owner": hints["owners"], "time": _hint_parts(hints["time_phrase"]),
                        "target": _hint_parts(hints["target"])}
            for kind in counts:
                want = _hint_parts(measure[f"{kind}_hint"])
                have = produced[kind]
                ok = (not want and not have) or (
                    bool(want) and bool(have)
                    and all(any(_contains(w, h) for h in have) for w in want))
                counts[kind][0] += ok
                counts[kind][1] += 1
    return {kind: (a, b) for kind, (a, b) in counts.items()}


def test_sample_hint_agreement(plans_dir, capsys):
    agreement = hint_agreement()
    with capsys.disabled():
        print("\nhint agreement: " + ", ".join(
            f"{kind} {a}/{b} ({a / b:.0%})" for kind, (a, b) in agreement.items()))
    owner, time, target = (a / b for a, b in agreement.values())
    assert owner >= 0.9 and time >= 0.95 and target >= 0.95


def test_sample_004_inferred_numbers_have_no_label(plans_dir):
    text, _ = load_sample(next(p for p in sample_files() if p.name.startswith("004")))
    parsed = parse_plan(text)
    first = parsed.nodes[0]
    assert (first.label, first.number, first.line) == ("", "一", 9)
    assert (first.children[0].label, first.children[0].number) == ("", "（一）")
    assert (first.children[0].children[0].label, first.children[0].children[0].number) == ("", "1")
    assert parsed.trailer.startswith("总之")
    assert parsed.trailer.endswith("常州市武进区崔桥小学")


def test_sample_001_trailer_is_pasted_abstracts(plans_dir):
    text, _ = load_sample(next(p for p in sample_files() if p.name.startswith("001")))
    parsed = parse_plan(text)
    assert parsed.trailer.startswith("小学2024年工作要点")
    assert "一 增强责任意识" in parsed.trailer
    assert any("阅读 8498" in line for line in parsed.noise)


def test_sample_000_section_closing_paragraph_goes_to_section(plans_dir):
    text, _ = load_sample(next(p for p in sample_files() if p.name.startswith("000")))
    parsed = parse_plan(text)
    second = parsed.nodes[1]
    assert "四项课题顺利通过中期检查" in second.text
    assert "四项课题" not in second.children[-1].text
    assert "\u00a0" in parsed.noise and "• 打印" in parsed.noise


# --------------------------------------------------------------------------- general shapes


def paths(parsed: ParsedPlan) -> list[list[str]]:
    return [p for p, _ in iter_measures(parsed)]


def test_numbering_styles_nest_by_first_appearance():
    text = "\n".join([
        "某校2025年工作计划", "一、教学工作", "（一）课堂", "1. 备课", "（1）集体备课每周一次。",
        "(2)个人备课", "① 细节", "② 细节二", "2、上课", "（二）教研", "二、德育工作",
        "1．少先队活动", "2．班主任培训"])
    parsed = parse_plan(text)
    assert parsed.title == "某校2025年工作计划"
    assert paths(parsed) == [
        ["一", "（一）", "1", "（1）"], ["一", "（一）", "1", "(2)", "①"],
        ["一", "（一）", "1", "(2)", "②"], ["一", "（一）", "2"], ["一", "（二）"],
        ["二", "1"], ["二", "2"]]


def test_number_normalisation_keeps_brackets_and_drops_list_punctuation():
    cases = {"一、": "一", "十二．": "十二", "1.": "1", "1、": "1", "１．": "１", "（一）": "（一）",
             "(二)": "(二)", "一)": "一)", "(1)": "(1)", "（1）": "（1）", "1)": "1)", "③": "③",
             "⑵": "⑵", "⒊": "⒊", "一是": "一是", "第一部分": "第一部分", "第二章": "第二章",
             "第三条": "第三条", "第一，": "第一", "1.2": "1.2", "1.2.3": "1.2.3",
             "Part 2": "Part 2", "IV.": "IV", "B.": "B", "(c)": "(c)", "d)": "d)"}
    for label, number in cases.items():
        marker = detect_marker(label + " 开展工作 work")
        assert marker is not None, label
        assert marker.number == number, label


@pytest.mark.parametrize("text", ["2023年工作回顾", "1.5倍的增长", "3、4月份开展家访", "一、二年级学生",
                                  "一年来，我们", "12月份完成", "2024.3.1 开会", "I am here",
                                  "十二、三年级"])
def test_not_markers(text):
    assert detect_marker(text) is None


def test_markers_followed_by_numbers():
    assert detect_marker("1、2024年3月前完成验收").number == "1"
    assert detect_marker("2.三月份开展公开课").number == "2"
    assert detect_marker("二、2025年工作").number == "二"


def test_flat_text_without_numbering_is_a_list_of_paragraph_measures():
    parsed = parse_plan("加强课堂管理。\n\n开展读书活动。\n做好安全工作。")
    assert paths(parsed) == [["¶1"], ["¶2"], ["¶3"]]
    assert FLAT_WARNING in parsed.warnings
    assert parse_plan("").nodes == [] and parse_plan("").warnings == []


def test_heading_fused_with_first_sentence():
    parsed = parse_plan("一、教学\n1.强化课程意识，规范教学行为。严格按照课程计划开课：\n2.其他")
    node = parsed.nodes[0].children[0]
    assert node.heading == "强化课程意识，规范教学行为"
    assert node.text == "强化课程意识，规范教学行为。严格按照课程计划开课："


def test_mid_line_number_is_not_a_sub_list():
    parsed = parse_plan("一、后勤\n1.强化少年宫管理。1、提高认识，强化服务。\n2.食堂管理。")
    assert paths(parsed) == [["一", "1"], ["一", "2"]]
    assert "1、提高认识" in parsed.nodes[0].children[0].text


def test_misprinted_top_level_marker_is_decided_by_sequence():
    # "3、" breaks the goals' sequence (1.–4.) but continues 一、二、: a top-level item.
    # (With only two goals "3、" would continue them too, and the goal list wins.)
    text = ("一、指导思想\n略。\n二、工作目标\n1.目标一。\n2.目标二。\n3.目标三。\n4.目标四。\n"
            "3、 工作措施\n（一）德育\n1.活动。\n2.评价。")
    parsed = parse_plan(text)
    assert [n.number for n in parsed.nodes] == ["一", "二", "3"]
    assert paths(parsed) == [["3", "（一）", "1"], ["3", "（一）", "2"]]
    assert all(n.kind == "section" for n in parsed.nodes[1].children)  # goals are framing


def test_numbering_continuing_across_parents():
    text = "一、措施\n一)管理\n1、甲。\n2、乙。\n二)教学\n3、丙。\n4、丁。"
    assert paths(parse_plan(text)) == [["一", "一)", "1"], ["一", "一)", "2"],
                                       ["一", "二)", "3"], ["一", "二)", "4"]]


def test_skipped_levels_and_mixed_depth():
    text = "一、德育\n1. 活动\n2. 评价\n（1）日评。\n（2）周评。\n3. 家校\n二、教学\n（一）课堂\n①预习。\n②展示。"
    assert paths(parse_plan(text)) == [
        ["一", "1"], ["一", "2", "（1）"], ["一", "2", "（2）"], ["一", "3"],
        ["二", "（一）", "①"], ["二", "（一）", "②"]]


def test_lost_automatic_numbers_are_inferred_in_sibling_style():
    text = "\n".join(["学校工作计划", "前言段落，说明背景。", "规范管理。", "强化课程意识。",
                      "严格按照课程计划开课。", "2.听课活动。", "（二）课题研究", "1.省级课题。",
                      "二、德育工作", "1.少先队。"])
    parsed = parse_plan(text)
    assert paths(parsed) == [["一", "（一）", "1"], ["一", "（一）", "2"], ["一", "（二）", "1"],
                             ["二", "1"]]
    assert parsed.preamble == "前言段落，说明背景。"
    assert [n.label for n in iter_nodes(parsed.nodes)][:3] == ["", "", ""]


def test_run_in_enumeration_is_split_inside_items_only():
    text = ("前言：一是背景一；二是背景二。\n一、党建\n1.抓严管党治党责任。支部认真履职。一是落实责任。"
            "二是严肃组织生活。三是抓好主题党日。\n2.加强学习。")
    parsed = parse_plan(text)
    assert paths(parsed) == [["一", "1", "一是"], ["一", "1", "二是"], ["一", "1", "三是"],
                             ["一", "2"]]
    item = parsed.nodes[0].children[0]
    assert item.kind == "section" and item.text == "抓严管党治党责任。支部认真履职。"
    assert item.children[1].text == "严肃组织生活。"
    assert "一是背景一" in parsed.preamble


def test_unnumbered_lists_are_not_split():
    parsed = parse_plan("一、教学\n1.落实五个一，即每周一次教研、每月一次检查。\n2.其他。")
    assert paths(parsed) == [["一", "1"], ["一", "2"]]


def test_framing_parts_are_sections_and_problems_are_not_measures():
    text = ("一、指导思想\n坚持立德树人。\n二、工作目标\n1.质量提升。\n三、主要措施\n1.开展教研。\n"
            "四、存在的问题\n一是投入不足。\n二是管理粗放。")
    parsed = parse_plan(text)
    assert paths(parsed) == [["三", "1"]]
    assert [n.kind for n in parsed.nodes] == ["section"] * 4


def test_framing_needs_the_term_at_the_start():
    text = "一、工作目标\n1.质量。\n二、措施\n1.加强工作目标管理。\n2.解决存在的问题，提升质量。"
    assert paths(parse_plan(text)) == [["二", "1"], ["二", "2"]]


def test_sub_heading_before_restarted_numbering_is_not_a_trailer():
    text = "学校工作计划\n一、教学\n1.甲。\n二、德育\n1.乙。\n三月份工作安排\n一、开学\n1.丙。"
    parsed = parse_plan(text)
    assert parsed.trailer == ""
    assert len(paths(parsed)) == 3


def test_heading_without_items_is_a_measure_and_paragraph_items_split():
    text = ("一、德育\n（一）活动\n1.升旗。\n（二）心理健康教育\n要上好心理课。\n（三）科研\n1.课题。\n"
            "二、部门联动\n课程中心牵头调研。\n另外，重视毕业班工作。\n总之，我们要努力。\n老师们，加油！\n"
            "某某小学\n2021年2月")
    parsed = parse_plan(text)
    assert paths(parsed) == [["一", "（一）", "1"], ["一", "（二）"], ["一", "（三）", "1"],
                             ["二", "¶1"], ["二", "¶2"]]
    assert parsed.trailer.split("\n") == ["总之，我们要努力。", "老师们，加油！", "某某小学", "2021年2月"]


def test_continuation_paragraphs_belong_to_the_item_above():
    text = "一、管理\n1.加强队伍建设。\n继续落实蹲点制度。\n2.深化改革。\n要研究评价机制。\n二、教学\n1.常规。"
    parsed = parse_plan(text)
    first = parsed.nodes[0].children[0]
    assert first.text == "加强队伍建设。\n继续落实蹲点制度。"
    assert parsed.nodes[0].children[1].text.endswith("要研究评价机制。")


def test_bookmarks_and_furniture_are_noise():
    text = ("标题: 某校工作计划\n索引号: 123 文号:\n\u00a0\n某校工作计划\n发布日期:2024-06-11\n  • 打印\n"
            "[bookmark: OLE_LINK1]一、工作\n[bookmark: _Hlk1]1.开展活动。\n- 2 -\n2.总结。")
    parsed = parse_plan(text)
    assert parsed.title == "某校工作计划"
    assert paths(parsed) == [["一", "1"], ["一", "2"]]
    assert "[bookmark: OLE_LINK1]" in parsed.noise and "- 2 -" in parsed.noise
    assert parsed.nodes[0].line == 7
    assert count_chars(parsed.accounted_text()) == count_chars(text)


def test_split_title_and_title_field_fallback():
    parsed = parse_plan("某某小学\n2024学年工作计划\n一、工作\n1.甲。")
    assert parsed.title == "某某小学2024学年工作计划"
    parsed = parse_plan("标题: 学校工作安排\n\n一、工作\n1.甲。")
    assert parsed.title == "学校工作安排"
    assert count_chars(parsed.accounted_text()) == count_chars("标题: 学校工作安排一、工作1.甲。")
    assert parse_plan("本学年我校坚持依法治校，现总结如下：\n一、党建\n1.甲。").title is None


def test_title_repeated_later_starts_the_trailer():
    text = "学校工作要点\n一、指导思想\n略。\n二、措施\n1.甲。\n2.乙。\n学校工作要点\n一 指导思想 摘要……"
    parsed = parse_plan(text)
    assert parsed.trailer.startswith("学校工作要点\n一 指导思想")
    assert paths(parsed) == [["二", "1"], ["二", "2"]]


def test_pasted_second_document_with_restarted_numbering_is_trailer():
    text = "甲校工作计划\n一、教学\n1.甲。\n二、德育\n1.乙。\n乙校2023年工作总结\n一、成绩\n1.丙。"
    parsed = parse_plan(text)
    assert paths(parsed) == [["一", "1"], ["二", "1"]]
    assert parsed.trailer.startswith("乙校2023年工作总结")


def test_numbering_restart_and_heading_alone_on_its_line():
    parsed = parse_plan("一、\n教学工作\n1.甲。\n1.乙。")
    assert parsed.nodes[0].heading == "教学工作"
    assert [n.number for n in parsed.nodes[0].children] == ["1", "1"]
    assert any("restarts" in w for w in parsed.warnings)


def test_english_plan():
    text = "\n".join(["School Work Plan 2025", "I. Teaching", "A. Lessons",
                      "1. Observe two lessons a week. Teachers will record notes.",
                      "2. Share feedback.", "B. Research", "a) Start a project.", "b) Report.",
                      "II. Safety", "Part 3 Other", "1.1 Canteen checks", "1.2 Drills"])
    parsed = parse_plan(text)
    assert parsed.title == "School Work Plan 2025"
    assert paths(parsed)[:4] == [["I", "A", "1"], ["I", "A", "2"], ["I", "B", "a)"],
                                 ["I", "B", "b)"]]
    node = parsed.nodes[0].children[0].children[0]
    assert node.heading == "Observe two lessons a week"


def test_letters_continuing_a_list_are_not_roman_numerals():
    text = "\n".join(["Plan", *[f"{chr(65 + i)}. item {i}" for i in range(10)]])
    assert [p[0] for p in paths(parse_plan(text))] == list("ABCDEFGHIJ")


def test_mixed_width_punctuation_at_one_level():
    text = "三、德育\n（一）机制\n1.甲。\n (二)队伍\n1.乙。\n(三)课程\n1.丙。\n（四）文化\n1.丁。"
    assert paths(parse_plan(text)) == [["三", "（一）", "1"], ["三", "(二)", "1"],
                                       ["三", "(三)", "1"], ["三", "（四）", "1"]]


def test_measures_get_hints_with_calendar():
    from datetime import date

    from tracker.plans.hints import TermCalendar

    calendar = TermCalendar(start=date(2021, 2, 22), mid=date(2021, 4, 19), end=date(2021, 7, 2))
    parsed = parse_plan("一、教学\n1.由教务处牵头，三月份完成，优秀率达到95%以上。", calendar,
                        departments=["教学管理中心"])
    hints = parsed.nodes[0].children[0].hints.to_dict()
    assert hints == {"owners": ["教务处"], "due": "2021-03-31", "time_phrase": "三月份",
                     "recurrence": None, "target": "优秀率达到95%以上"}


def test_iter_measures_and_text_start():
    parsed = parse_plan("一、甲\n1. 　做好开学准备工作，确保安全有序开展。")
    [(path, node)] = list(iter_measures(parsed))
    assert path == ["一", "1"] and text_start(node) == "做好开学准备工作，确保安全有序开展"[:15]
