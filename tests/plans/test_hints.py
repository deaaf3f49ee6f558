"""Hint tests: owners, time phrases resolved against a term calendar, targets."""
from __future__ import annotations

from datetime import date

import pytest

from tracker.plans.hints import (
    LUNAR_FESTIVALS,
    TermCalendar,
    cn_to_int,
    extract_hints,
    find_owners,
    find_targets,
    find_times,
    resolve_time_phrase,
)

# 2020—2021学年第二学期 (spring) and 2024—2025学年第一学期 (autumn).
SPRING = TermCalendar(start=date(2021, 2, 22), mid=date(2021, 4, 19), end=date(2021, 7, 2))
AUTUMN = TermCalendar(start=date(2024, 9, 1), mid=date(2024, 11, 4), end=date(2025, 1, 17))


def due(phrase: str, calendar: TermCalendar | None = SPRING) -> date | None:
    return resolve_time_phrase(phrase, calendar)


@pytest.mark.parametrize("phrase, expected", [
    ("三月份", date(2021, 3, 31)),
    ("3月份", date(2021, 3, 31)),
    ("五月底前", date(2021, 5, 31)),
    ("五月中旬", date(2021, 5, 20)),
    ("4月上旬", date(2021, 4, 10)),
    ("3月15日前", date(2021, 3, 15)),
    ("2024年6月底前", date(2024, 6, 30)),
    ("学期初", date(2021, 3, 8)),
    ("开学初", date(2021, 3, 8)),
    ("期初", date(2021, 3, 8)),
    ("开学前", date(2021, 2, 21)),
    ("开学", date(2021, 2, 22)),
    ("开学第一周", date(2021, 2, 28)),
    ("第三周", date(2021, 3, 14)),
    ("期中", date(2021, 4, 19)),
    ("期末", date(2021, 7, 2)),
    ("学期末", date(2021, 7, 2)),
    ("学年末", date(2021, 7, 2)),
    ("寒假期间", date(2021, 2, 21)),
    ("暑假期间", date(2021, 8, 31)),
    ("清明节", date(2021, 4, 4)),
    ("端午节", date(2021, 6, 14)),
    ("六一", None),  # a bare 六一 is not taken as a festival…
    ("庆“六一”", date(2021, 6, 1)),  # …but a quoted / celebrated one is
    ("六一儿童节", date(2021, 6, 1)),
    ("2023年上半年", date(2023, 6, 30)),
])
def test_spring_term_resolution(phrase, expected):
    assert due(phrase) == expected


@pytest.mark.parametrize("phrase, expected", [
    ("三月份", None),  # outside the autumn term: refers to the next term, never guessed
    ("十月份", date(2024, 10, 31)),
    ("元旦", date(2025, 1, 1)),
    ("国庆节", date(2024, 10, 1)),
    ("中秋节", date(2024, 9, 17)),
    ("教师节", date(2024, 9, 10)),
    ("重阳节", date(2024, 10, 11)),
    ("春节", None),  # 2025-01-29 is after the term's end
    ("学年末", date(2025, 7, 1)),  # default: 1 July after an autumn term
    ("寒假期间", None),  # next term's start unknown
    ("暑假期间", date(2024, 8, 31)),
    ("年底前", date(2024, 12, 31)),
])
def test_autumn_term_resolution(phrase, expected):
    assert due(phrase, AUTUMN) == expected


def test_configured_year_end_and_next_term():
    calendar = TermCalendar(start=date(2024, 9, 1), end=date(2025, 1, 17),
                            academic_year_end=date(2025, 7, 4),
                            next_term_start=date(2025, 2, 17))
    assert due("学年末", calendar) == date(2025, 7, 4)
    assert due("寒假期间", calendar) == date(2025, 2, 16)


@pytest.mark.parametrize("phrase", ["2月30日", "2021年2月30日前", "13月份", "4月31日"])
def test_impossible_dates_are_never_guessed(phrase):
    assert due(phrase) is None


def test_unresolvable_phrases_keep_their_text():
    hints = find_times("假期做好维修，秋季学期完成，期中检查", None)
    assert [(h.phrase, h.due) for h in hints] == [("假期", None), ("秋季学期", None), ("期中", None)]
    no_mid = TermCalendar(start=date(2021, 2, 22), end=date(2021, 7, 2))
    assert due("期中", no_mid) is None


@pytest.mark.parametrize("text, recurrence", [
    ("每天锻炼一小时", "daily"), ("每一天坚持", "daily"), ("每周固定时间教研", "weekly"),
    ("每月召开一次", "monthly"), ("每学期人人准备一节", "termly"), ("每学年评选一次", "yearly"),
    ("每个季度检查", None), ("每年级选派两名", None),
])
def test_recurrences(text, recurrence):
    hints = extract_hints(text)
    assert hints.recurrence == recurrence
    if text != "每年级选派两名":
        assert hints.times[0].kind == "recurrence"
    else:
        assert hints.times == []


@pytest.mark.parametrize("text", ["本学期继续开展", "定期召开会议", "及时整改", "日常巡查", "每次调研结束后",
                                  "雨季、雪天做好防范", "统一月考安排", "一年来取得成绩"])
def test_vague_or_own_period_words_are_not_time_hints(text):
    assert find_times(text, SPRING) == []


def test_festival_table_is_plausible_and_complete():
    for name, table in LUNAR_FESTIVALS.items():
        assert sorted(table) == list(range(2020, 2036)), name
    ranges = {"春节": ((1, 21), (2, 20)), "端午": ((5, 28), (6, 25)), "中秋": ((9, 7), (10, 8)),
              "清明": ((4, 4), (4, 5)), "重阳": ((10, 1), (10, 29))}
    for name, (low, high) in ranges.items():
        for year, month_day in LUNAR_FESTIVALS[name].items():
            assert low <= month_day <= high, (name, year)
    # hand-checked: 元宵 is 14 days after 春节 every year
    for year, (month, day) in LUNAR_FESTIVALS["元宵"].items():
        spring = date(year, *LUNAR_FESTIVALS["春节"][year])
        assert (date(year, month, day) - spring).days == 14


def test_due_is_latest_resolved_date_and_phrases_are_kept():
    hints = extract_hints("我校将在三月份开好会议，期中开好动员会，五月份开好家长会。", calendar=SPRING)
    data = hints.to_dict()
    assert data["time_phrase"] == "三月份 / 期中 / 五月份"
    assert data["due"] == "2021-05-31"


def test_owners_department_list_first_then_common_names():
    assert [o.name for o in find_owners("由学生发展处牵头，教务处配合", ["学生发展处"])] == [
        "学生发展处", "教务处"]
    owners = find_owners("服务中心根据学校要求做好安全检查")
    assert [o.name for o in owners] == ["服务中心"]
    assert owners[0].phrase == "服务中心根据学校要求做好安全检查"


@pytest.mark.parametrize("text, owners", [
    ("学校要加强管理，全体教师积极参与", []),
    ("加强班主任队伍建设", []),
    ("做好班主任的培训工作", []),
    ("以班主任为核心团队开发课程", ["班主任"]),
    ("学期初由骨干教师执教示范课", ["骨干教师"]),
    ("学习《工会规程》", []),
    ("根据学校德育办和少先队的工作安排", []),
    ("由教研组长收集过程材料", ["教研组长"]),
    ("党支部书记履行第一责任人职责", ["党支部书记"]),
    ("成立考核评价小组，制定考核细则", ["考核评价小组"]),
    ("对教师办公室资产进行排查", []),
])
def test_owner_rules(text, owners):
    assert [o.name for o in find_owners(text)] == owners


@pytest.mark.parametrize("text, target", [
    ("确保演示实验、分组实验开出率100%", "确保演示实验、分组实验开出率100%"),
    ("学生参与度达95,6%", "学生参与度达95,6%"),
    ("优秀率95%以上", "优秀率95%以上"),
    ("每周至少听评2节课", "每周至少听评2节课"),
    ("每学期每人至少投稿一次", "每学期每人至少投稿一次"),
    ("每学期人人准备一节观摩课", "每学期人人准备一节观摩课"),
    ("阅读量不少于10本", "阅读量不少于10本"),
    ("落实每天锻炼一小时的要求", "落实每天锻炼一小时的要求"),
    ("超过5%的要求", "超过5%的要求"),
])
def test_targets(text, target):
    assert [t.phrase for t in find_targets(text)] == [target]


@pytest.mark.parametrize("text", ["每月开展一次主题活动", "符合学校规定的节数", "确保继续教育学时数量",
                                  "2023年我校学生获得4个冠军"])
def test_not_targets(text):
    assert find_targets(text) == []


def test_hints_to_dict_shape():
    data = extract_hints("").to_dict()
    assert data == {"owners": [], "due": None, "time_phrase": None, "recurrence": None,
                    "target": None}


def test_calendar_rejects_reversed_dates_and_cn_numerals():
    with pytest.raises(ValueError):
        TermCalendar(start=date(2021, 7, 2), end=date(2021, 2, 22))
    assert [cn_to_int(x) for x in ("一", "十", "十二", "二十", "二十三", "九十九", "１２", "")] == [
        1, 10, 12, 20, 23, 99, 12, None]
