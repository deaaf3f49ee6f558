"""Property tests for the parser.

The no-loss invariant, precisely: let ``C(s)`` be the multiset (Counter) of the
non-whitespace characters of ``s`` (``str.isspace``). For every input ``text``::

    C(text) == C(title) + C(preamble) + C(trailer) + Σ C(noise entry)
               + Σ over all nodes (C(label) + C(text))

i.e. each non-whitespace character of the input is either recognised noise (listed in
``noise``) or kept exactly once in the title, preamble, trailer or one node's label/text
(headings and numbers are derived copies and are not counted). ``ParsedPlan.accounted_text``
concatenates exactly those parts.
"""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plans.conftest import sample_files
from tracker.plans.parsing import count_chars, iter_measures, iter_nodes, parse_plan

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SAMPLES = [path.read_text(encoding="utf-8") for path in sample_files()]

MARKERS = ["一、", "二、", "三、", "3、", "（一）", "(二)", "三)", "1.", "2.", "2、", "10.", "（1）",
           "(2)", "3)", "①", "②", "一是", "二是", "第一部分", "第二章", "第三条", "1.1 ", "1.2.3 ",
           "I. ", "II. ", "A. ", "b) ", "(c) ", "Part 2 ", "⑴", "⒉", "", "", "  ", "\u3000",
           "[bookmark: OLE_LINK1]", "• ", "标题: ", "总之，", "老师们，"]
FRAGMENTS = ["指导思想", "工作目标", "存在的问题：", "加强管理。", "强化课程意识，规范教学行为。严格按照",
             "一是落实责任。二是严肃纪律。", "每月开展一次", "学校工作计划", "三月份", "由教务处牵头",
             "达到95%以上", "某某小学", "2021年2月", "发布日期:2024-06-11", "\u00a0", "1、提高认识。",
             "另外，重视毕业班。", "", "Teaching plan", "。", "：", "）"]


def _check(text: str) -> None:
    parsed = parse_plan(text)
    assert count_chars(parsed.accounted_text()) == count_chars(text)
    assert parse_plan(text).to_dict() == parsed.to_dict()  # deterministic
    for node in iter_nodes(parsed.nodes):
        assert node.kind in ("section", "measure")
        assert (node.kind == "measure") == (not node.children and not node.framing)
        for child in node.children:
            assert child.level == node.level + 1
    for path, node in iter_measures(parsed):
        assert path[-1] == node.number and len(path) == node.level


@SETTINGS
@given(st.text(max_size=3000))
def test_arbitrary_unicode_never_raises_or_loses_text(text):
    _check(text)


_line = st.builds(lambda m, f, g: m + f + g, st.sampled_from(MARKERS), st.sampled_from(FRAGMENTS),
                  st.sampled_from(FRAGMENTS) | st.text(max_size=20))


@SETTINGS
@given(st.lists(_line, max_size=60), st.sampled_from(["\n", "\n\n", "\r\n", "\r"]))
def test_plan_like_text_never_raises_or_loses_text(lines, newline):
    _check(newline.join(lines))


WIDTH_SWAPS = [("（", "("), ("）", ")"), ("，", ","), ("：", ":"), ("；", ";")]


def _swap(text: str, pairs, to_ascii: bool) -> str:
    """Swap full-/half-width punctuation (Word bookmark markers are left intact)."""
    for full, half in pairs:
        text = text.replace(full, half) if to_ascii else text.replace(half, full)
    return text.replace("[bookmark：", "[bookmark:")


def _renumber(text: str, rng) -> str:
    """Replace every line-start Arabic list number with a random one."""
    return re.sub(r"(?m)^(\s*)\d{1,2}(?=[.、．])", lambda m: m.group(1) + str(rng.randint(1, 30)),
                  text)


if SAMPLES:
    @SETTINGS
    @given(st.sampled_from(SAMPLES), st.randoms(use_true_random=False), st.booleans(),
           st.booleans(), st.booleans())
    def test_shuffled_renumbered_real_plans(text, rng, shuffle, renumber, to_ascii):
        lines = text.split("\n")
        if shuffle:
            rng.shuffle(lines)
        text = "\n".join(lines)
        if renumber:
            text = _renumber(text, rng)
        _check(_swap(text, WIDTH_SWAPS, to_ascii))

    @settings(max_examples=60, deadline=None)
    @given(st.sampled_from(range(len(SAMPLES))),
           st.lists(st.sampled_from(WIDTH_SWAPS), unique=True), st.booleans())
    def test_punctuation_width_does_not_change_the_tree(index, pairs, to_ascii):
        text = SAMPLES[index]
        before = [len(p) for p, _ in iter_measures(parse_plan(text))]
        after = [len(p) for p, _ in iter_measures(parse_plan(_swap(text, pairs, to_ascii)))]
        assert after == before

    @settings(max_examples=40, deadline=None)
    @given(st.sampled_from(range(len(SAMPLES))), st.sampled_from(["．", "."]))
    def test_top_level_punctuation_style_does_not_change_the_tree(index, punct):
        text = SAMPLES[index]
        swapped = re.sub(r"(?m)^([一二三四五六七八九十]{1,3})、", lambda m: m.group(1) + punct, text)
        before = [p for p, _ in iter_measures(parse_plan(text))]
        assert [p for p, _ in iter_measures(parse_plan(swapped))] == before
