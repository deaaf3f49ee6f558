"""Hints found in a measure's text: who leads it, when it is due, what it must reach.

Pure module (standard library only). Every hint keeps the phrase it came from, so a
person can check it; hints are suggestions for the import form, never facts.

Three kinds of hint, following the annotation rules in shared/plans/README.md:

* **Owners** — a unit or role named as doing or leading the work. The organisation's own
  department names are matched first, then a list of common school units (教务处, 德育处,
  少先队, 班主任, 教研组长 …), then "由X牵头/负责" and "成立X小组" patterns. The whole
  school (学校, 我校) and generic teachers (教师, 全体教师) are never owners, and neither is a
  unit that is only the object of the work ("加强班主任队伍建设", "对班主任的培训").
* **Time** — recurrences (每天, 每周, 每月, 每学期, 每学年, 每个季度), points in the term
  (开学前, 学期初, 期中, 期末, 学年末 …), months and periods (三月份, 五月底前,
  2024年6月底前, 寒假期间 …) and festivals that time an activity (清明节, 国庆, “七一” …).
  With a :class:`TermCalendar` a phrase is resolved to a due date; a phrase that cannot be
  resolved exactly keeps ``due=None`` — a date is never guessed.
* **Targets** — quantified targets: percentages, 至少/不少于/超过/达到 with a quantity,
  per-person quotas (每人, 人人) and required durations (一小时). A bare once-per-period
  recurrence ("每月开展一次") is only a time hint.

Resolution rules (documented choices):

* 学期初 / 开学初 / 期初 → term start + 14 days; 开学 → term start; 开学前 → start − 1 day;
  开学第N周 / 第N周 → last day of week N of the term.
* 期中 → ``calendar.mid`` (unresolved when the calendar has no mid-term date).
* 期末 / 学期末 / 学期结束 / 寒假前 (autumn) / 暑假前 (spring) / 放假前 → term end.
* 学年末 → ``calendar.academic_year_end`` if set; else the term end for a spring term, and
  1 July of the following year for an autumn term (the earliest day "early July" can mean,
  so a tracker warns early rather than late).
* Months without a year (三月份, 五月底前, 3月15日) → the occurrence of that month inside
  the term's span [start, end]; a month outside the span (三月份 in an autumn term) is
  **unresolved**: it most likely refers to the next term, and we do not guess. 月份/底/末/
  下旬 → last day of the month, 上旬/初 → 10th, 中旬 → 20th. Months with a year
  (2024年6月底前) resolve regardless of the term. Impossible dates (2月30日) → unresolved.
* 寒假期间: spring term → start − 1 day (the holiday just before the term); autumn term →
  ``next_term_start`` − 1 day when known, else unresolved. 暑假期间: autumn term → start −
  1 day; spring term → ``next_term_start`` − 1 day, else 31 August (a 学年 starts in
  September). 假期 alone, 秋季学期, 春季学期 → unresolved.
* Festivals → their date inside the term's span (fixed: 元旦 1/1, 三八 3/8, 植树节 3/12,
  五一 5/1, 五四 5/4, 六一 6/1, 七一 7/1, 八一 8/1, 教师节 9/10, 国庆/十一 10/1 …; lunar and
  solar-term festivals from a table for 2020–2035 checked against a lunar calendar);
  outside the span or the table → unresolved.
* A measure's ``due`` is the latest resolved date among its time phrases (the measure is
  done when all its timed parts are done); ``recurrence`` is the first recurrence found.
"""
from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

__all__ = [
    "Hints",
    "OwnerHint",
    "TargetHint",
    "TermCalendar",
    "TimeHint",
    "extract_hints",
    "find_owners",
    "find_targets",
    "find_times",
    "resolve_time_phrase",
]

# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class TermCalendar:
    """The dates of one term (or of a whole school year, for a 学年 plan).

    ``start``/``end`` bound the term; ``mid`` is the mid-term date (期中) if known.
    ``academic_year_end`` (学年末) and ``next_term_start`` (to resolve the holiday after
    the term) are optional.
    """

    start: date
    end: date
    mid: date | None = None
    academic_year_end: date | None = None
    next_term_start: date | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("term end is before term start")

    @property
    def is_autumn(self) -> bool:
        """第一学期 starts in late summer / autumn (August–December)."""
        return self.start.month >= 8

    @property
    def year_end(self) -> date:
        """学年末: configured, else the spring term's end or 1 July after an autumn term."""
        if self.academic_year_end is not None:
            return self.academic_year_end
        if self.is_autumn:
            return date(self.start.year + 1, 7, 1)
        return self.end

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def year_for_month(self, month: int) -> int | None:
        """The calendar year in which ``month`` overlaps the term's span, if any."""
        for year in range(self.start.year, self.end.year + 1):
            first = date(year, month, 1)
            last = date(year, month, _calendar.monthrange(year, month)[1])
            if first <= self.end and last >= self.start:
                return year
        return None

    def in_span(self, candidates: Iterable[date]) -> date | None:
        for day in candidates:
            if self.contains(day):
                return day
        return None


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class OwnerHint:
    """A unit named as doing the work; ``phrase`` is the text around it."""

    name: str
    phrase: str


@dataclass(frozen=True)
class TimeHint:
    """A time phrase; ``kind`` is recurrence/point/month/period/festival."""

    phrase: str
    kind: str
    due: date | None = None
    recurrence: str | None = None


@dataclass(frozen=True)
class TargetHint:
    """A quantified target; ``phrase`` is the clause holding it."""

    phrase: str


@dataclass
class Hints:
    owners: list[OwnerHint] = field(default_factory=list)
    times: list[TimeHint] = field(default_factory=list)
    targets: list[TargetHint] = field(default_factory=list)

    @property
    def due(self) -> date | None:
        dates = [t.due for t in self.times if t.due is not None]
        return max(dates) if dates else None

    @property
    def recurrence(self) -> str | None:
        return next((t.recurrence for t in self.times if t.recurrence), None)

    def to_dict(self) -> dict:
        """The stable JSON shape used in the parse tree."""
        due = self.due
        return {
            "owners": _unique(o.name for o in self.owners),
            "due": due.isoformat() if due else None,
            "time_phrase": " / ".join(_unique(t.phrase for t in self.times)) or None,
            "recurrence": self.recurrence,
            "target": " / ".join(_unique(t.phrase for t in self.targets)) or None,
        }


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


# --------------------------------------------------------------------------- numerals

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}


def cn_to_int(text: str) -> int | None:
    """Small Chinese numerals (up to 99) or ASCII/full-width digits → int."""
    if not text:
        return None
    if text.isdigit():
        try:
            return int(text)
        except ValueError:
            return None
    if "十" in text:
        tens, _, units = text.partition("十")
        tens_value = _CN_DIGITS.get(tens, None) if tens else 1
        units_value = _CN_DIGITS.get(units, None) if units else 0
        if tens_value is None or units_value is None or "十" in units:
            return None
        return tens_value * 10 + units_value
    if len(text) == 1:
        return _CN_DIGITS.get(text)
    return None


# --------------------------------------------------------------------------- owners

#: Common school units, as printed in plans. Longer names win over the names they
#: contain (党支部书记 over 党支部 over 支部).
COMMON_UNITS: tuple[str, ...] = (
    "党支部书记", "支部书记", "党支部", "党总支", "党委", "支部", "校长室", "分管校长", "副校长",
    "分管领导", "校领导班子", "领导班子", "班子成员", "中层干部", "中层领导", "行政领导",
    "值班校干", "值班领导", "领导干部", "教务处", "教导处", "教科处", "教科室", "科研室",
    "教研室", "德育处", "德育办", "政教处", "总务处", "后勤处", "后勤部", "办公室主任", "办公室",
    "校办", "党政办", "安全办", "保卫处", "电教处", "信息中心", "课程中心", "教师中心",
    "教师发展中心", "服务中心", "学生中心", "学生发展中心", "行政中心", "德育中心",
    "教学中心", "课程部", "少先队大队部", "大队部", "少先大队", "少先队", "团委", "团支部",
    "工会", "教研组长", "教研组", "备课组长", "备课组", "年级组长", "年级组", "学科组",
    "卫生室", "医务室",
)
#: Roles and bodies that are owners only when named as the doer ("由骨干教师执教",
#: "以班主任为核心", "食堂实行包保", "名师承担…"), since they are often the object.
COMMON_ROLES: tuple[str, ...] = (
    "班主任", "校长", "骨干教师", "名师", "心理教师", "大队辅导员", "辅导员", "年级主任",
    "食堂", "安全员",
)
#: Kept for callers that want the full vocabulary.
COMMON_OWNERS: tuple[str, ...] = COMMON_UNITS + COMMON_ROLES

#: Never owners: the whole school and generic teachers.
NOT_OWNERS = frozenset({"学校", "我校", "本校", "全校", "教师", "老师", "全体教师", "各学科教师",
                        "全体老师", "教职工", "全体教职工", "师生", "全体师生", "学生"})

#: A unit right after one of these is the object or recipient of the work.
_OBJECT_BEFORE = ("对", "向", "给", "为", "培养", "培训", "配齐", "选拔", "评选", "表彰",
                  "督促", "帮助", "关心", "加强对", "指导")
#: ... or a place named after its users ("教师办公室", "学生食堂").
_PLACE_BEFORE = ("教师", "学生", "校园", "年级")
#: A unit right before one of these is the object ("班主任队伍建设", "班主任的培训").
_OBJECT_AFTER = re.compile(r"(?:的)?(?:队伍|培训|考核|评比|评选|人选|工作室|工程|资产|"
                           r"设备|设施|环境|卫生|布置|会议|规程)")
#: A clause that starts like this follows someone else's schedule ("根据德育办的安排").
_FOLLOWS = re.compile(r"(?:根据|按照|依据|依照)")
#: A role is the doer when one of these follows it.
_AGENT_AFTER = re.compile(r"(?:们)?(?:要|将|须|需|应|负责|牵头|承担|执教|组织|带头|收集|实行|"
                          r"开展|做好|落实|主持|为核心|为主|为单位|为首)")
_LED_BY = re.compile(r"由([\u4e00-\u9fff]{2,10}?)(?:牵头|负责|组织|统筹|主持|落实|实施|承担|执教|"
                     r"收集|开展|制定|完成|带领)")
_TASK_GROUP = re.compile(r"(?:成立|由)([\u4e00-\u9fff]{2,8}?小组)")
_CLAUSE_SPLIT = re.compile(r"[，,。；;！？!?：:\n]")


@lru_cache(maxsize=64)
def _owner_regex(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation of ``names``, longest first (cached: called once per measure)."""
    unique = sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile("|".join(re.escape(n) for n in unique))


_UNIT_RE = _owner_regex(COMMON_UNITS)
_ROLE_RE = _owner_regex(COMMON_ROLES)


def _clause_start(text: str, start: int) -> int:
    return max((m.end() for m in _CLAUSE_SPLIT.finditer(text, max(0, start - 60), start)),
               default=max(0, start - 60))


def _clause_around(text: str, start: int, end: int) -> str:
    right_match = _CLAUSE_SPLIT.search(text, end, end + 60)
    right = right_match.start() if right_match else min(len(text), end + 60)
    return text[_clause_start(text, start):right].strip()


def _in_book_title(text: str, start: int) -> bool:
    return text.rfind("《", 0, start) > text.rfind("》", 0, start)


def _is_object(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 3):start]
    if any(before.endswith(word) for word in _OBJECT_BEFORE + _PLACE_BEFORE):
        return True
    if _in_book_title(text, start) or _FOLLOWS.search(text, _clause_start(text, start), start):
        return True
    return bool(_OBJECT_AFTER.match(text, end))


def _is_agent(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 1):start]
    return before in ("由", "以", "请", "让") or bool(_AGENT_AFTER.match(text, end))


def find_owners(text: str, departments: Sequence[str] | None = None) -> list[OwnerHint]:
    """Units named as doing the work, in text order (organisation's names first)."""
    found: dict[str, OwnerHint] = {}
    taken: list[tuple[int, int]] = []

    def add(name: str, start: int, end: int) -> None:
        name = name.strip()
        if not name or name in NOT_OWNERS or any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        found.setdefault(name, OwnerHint(name, _clause_around(text, start, end)))

    dept_re = _owner_regex(tuple(departments or ()))
    for regex, agent_only in ((dept_re, False), (_UNIT_RE, False), (_ROLE_RE, True)):
        if regex is None:
            continue
        for match in regex.finditer(text):
            start, end = match.start(), match.end()
            if _is_object(text, start, end) or (agent_only and not _is_agent(text, start, end)):
                continue
            add(match.group(0), start, end)
    for regex in (_LED_BY, _TASK_GROUP):
        for match in regex.finditer(text):
            add(match.group(1), match.start(1), match.end(1))
    order = {id(hint): text.find(hint.name) for hint in found.values()}
    return sorted(found.values(), key=lambda hint: order[id(hint)])


# --------------------------------------------------------------------------- time

_CN_NUM = "一二三四五六七八九十"
_RECURRENCE = {
    "天": "daily", "日": "daily", "一天": "daily", "周": "weekly", "星期": "weekly",
    "个星期": "weekly", "两周": "weekly", "双周": "weekly", "月": "monthly", "个月": "monthly",
    "半月": "monthly", "半个月": "monthly", "学期": "termly", "个学期": "termly",
    "学年": "yearly", "年": "yearly", "季度": None, "个季度": None,
}

#: Fixed-date festivals and commemorations (month, day).
FIXED_FESTIVALS: dict[str, tuple[int, int]] = {
    "元旦": (1, 1), "三八": (3, 8), "妇女节": (3, 8), "学雷锋": (3, 5), "植树节": (3, 12),
    "世界读书日": (4, 23), "读书日": (4, 23), "国家安全教育日": (4, 15), "劳动节": (5, 1),
    "五一": (5, 1), "青年节": (5, 4), "五四": (5, 4), "儿童节": (6, 1), "六一": (6, 1),
    "建党节": (7, 1), "七一": (7, 1), "建军节": (8, 1), "八一": (8, 1), "教师节": (9, 10),
    "国庆": (10, 1), "国庆节": (10, 1), "十一": (10, 1), "宪法日": (12, 4),
    "国家宪法日": (12, 4), "国家公祭日": (12, 13),
}

#: Lunar-calendar and solar-term festivals, 2020–2035 (checked against a lunar table).
LUNAR_FESTIVALS: dict[str, dict[int, tuple[int, int]]] = {
    "春节": {2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22), 2024: (2, 10),
           2025: (1, 29), 2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13),
           2030: (2, 3), 2031: (1, 23), 2032: (2, 11), 2033: (1, 31), 2034: (2, 19),
           2035: (2, 8)},
    "元宵": {2020: (2, 8), 2021: (2, 26), 2022: (2, 15), 2023: (2, 5), 2024: (2, 24),
           2025: (2, 12), 2026: (3, 3), 2027: (2, 20), 2028: (2, 9), 2029: (2, 27),
           2030: (2, 17), 2031: (2, 6), 2032: (2, 25), 2033: (2, 14), 2034: (3, 5),
           2035: (2, 22)},
    "清明": {2020: (4, 4), 2021: (4, 4), 2022: (4, 5), 2023: (4, 5), 2024: (4, 4),
           2025: (4, 4), 2026: (4, 5), 2027: (4, 5), 2028: (4, 4), 2029: (4, 4),
           2030: (4, 5), 2031: (4, 5), 2032: (4, 4), 2033: (4, 4), 2034: (4, 5),
           2035: (4, 5)},
    "端午": {2020: (6, 25), 2021: (6, 14), 2022: (6, 3), 2023: (6, 22), 2024: (6, 10),
           2025: (5, 31), 2026: (6, 19), 2027: (6, 9), 2028: (5, 28), 2029: (6, 16),
           2030: (6, 5), 2031: (6, 24), 2032: (6, 12), 2033: (6, 1), 2034: (6, 20),
           2035: (6, 10)},
    "中秋": {2020: (10, 1), 2021: (9, 21), 2022: (9, 10), 2023: (9, 29), 2024: (9, 17),
           2025: (10, 6), 2026: (9, 25), 2027: (9, 15), 2028: (10, 3), 2029: (9, 22),
           2030: (9, 12), 2031: (10, 1), 2032: (9, 19), 2033: (9, 8), 2034: (9, 27),
           2035: (9, 16)},
    "重阳": {2020: (10, 25), 2021: (10, 14), 2022: (10, 4), 2023: (10, 23), 2024: (10, 11),
           2025: (10, 29), 2026: (10, 18), 2027: (10, 8), 2028: (10, 26), 2029: (10, 16),
           2030: (10, 5), 2031: (10, 24), 2032: (10, 12), 2033: (10, 1), 2034: (10, 20),
           2035: (10, 9)},
}

_QUALIFIER = r"(?P<{0}>份|初|上旬|中旬|下旬|底|末)?(?:前|之前|以前)?"
_MONTH_CN = r"十[一二]?|[一二三四五六七八九]"
_DAY_CN = r"[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九]"
_SHORT_FESTIVALS = "七一|十一|五一|六一|八一|五四|三八"

#: Every alternative of _TIME_RE starts with one of these (a fast pre-check: Python's
#: regex engine does not index alternations by their first character).
_TIME_FIRST = r"(?=[\d一二三四五六七八九十上下年每天周月学开新期放寒暑第假秋春元清端中重国劳儿教建植妇青世宪节纪])"
_TIME_RE = re.compile(
    _TIME_FIRST + "(?:" + "|".join([
        # 2024年6月底前, 2024年6月15日
        r"(?P<ymd>(?P<y1>(?:19|20)\d{2})\s*年\s*(?P<m1>1[0-2]|0?[1-9])\s*月"
        r"(?:\s*(?P<d1>\d{1,2})\s*[日号])?" + _QUALIFIER.format("q1") + ")",
        # 20239月份 (a lost 年)
        r"(?P<glued>(?<!\d)(?P<y2>20\d{2})(?P<m2>1[0-2]|[1-9])月" + _QUALIFIER.format("q2") + ")",
        # 2023年上半年, 年底前
        r"(?P<half>(?:(?P<y3>(?:19|20)\d{2})\s*年)?(?P<h>上半年|下半年|年底|年末|年终)(?:前|之前)?)",
        # 3月15日, 五月底前, 三月份, 10月份
        r"(?P<md>(?<![\d年])(?P<m3>1[0-2]|0?[1-9])\s*月(?:\s*(?P<d3>\d{1,2})\s*[日号])?"
        + _QUALIFIER.format("q3") + r"(?![考饼刊报]))",
        r"(?P<mdc>(?<![\u4e00-\u9fff])(?P<m4>" + _MONTH_CN + r")月(?:(?P<d4>" + _DAY_CN
        + r")[日号])?" + _QUALIFIER.format("q4") + r"(?![考饼刊报]))",
        r"(?P<mdc2>(?<=[在于至到和及与、从自起即年前])(?P<m5>" + _MONTH_CN + r")月(?:(?P<d5>"
        + _DAY_CN + r")[日号])?" + _QUALIFIER.format("q5") + r"(?![考饼刊报]))",
        # recurrences
        r"(?P<rec>每(?P<unit>一天|天|日|个星期|星期|两周|双周|周|半个月|半月|个月|月|个学期|学期|"
        r"学年|个季度|季度|年(?!级)))",
        r"(?P<rec2>天天|周周|月月)",
        # points in the term
        r"(?P<pt>学期初|开学初|开学前|开学第(?P<wk1>[一二三四五1-5])周|新学期开学|开学|期初|"
        r"期中|学期中|期末|学期末|学期结束|学年末|学年结束|放假前|寒假前|暑假前|"
        r"第(?P<wk2>[一二三四五六七八九十]{1,3}|\d{1,2})周)",
        r"(?P<hol>(?P<holname>寒假|暑假)(?:期间|中|里)?|假期|秋季学期|春季学期)",
        # festivals
        r"(?P<fest>春节|元宵节?|清明节?|端午节?|中秋节?|重阳节?|国庆节?|元旦|劳动节|儿童节|"
        r"教师节|建党节|建军节|植树节|妇女节|青年节|世界读书日|国家安全教育日|国家宪法日|"
        r"国家公祭日|学雷锋|(?:重大|重要)?(?:节庆日|纪念日))",
        r"(?P<qfest>(?<=[‘“'\"庆迎])(?:" + _SHORT_FESTIVALS + r")(?=[’”'\"节前]|期间|当天|之际)"
        r"|(?:" + _SHORT_FESTIVALS + r")(?=节|前后|期间|当天|之际|来临|到来|长假|假期))",
    ]) + ")"
)


def _month_day(year: int, month: int, day: int | None, qualifier: str | None) -> date | None:
    try:
        if day is not None:
            return date(year, month, day)
        if qualifier in ("初", "上旬"):
            return date(year, month, 10)
        if qualifier == "中旬":
            return date(year, month, 20)
        return date(year, month, _calendar.monthrange(year, month)[1])
    except ValueError:
        return None


def _month_hint(match: re.Match[str], cal: TermCalendar | None) -> date | None:
    groups = match.groupdict()
    for y_key, m_key, d_key, q_key in (("y1", "m1", "d1", "q1"), ("y2", "m2", None, "q2"),
                                       (None, "m3", "d3", "q3"), (None, "m4", "d4", "q4"),
                                       (None, "m5", "d5", "q5")):
        if groups.get(m_key) is None:
            continue
        month = cn_to_int(groups[m_key])
        day = cn_to_int(groups[d_key]) if d_key and groups.get(d_key) else None
        if month is None or not 1 <= month <= 12:
            return None
        if day is not None and not 1 <= day <= 31:
            return None
        if y_key and groups.get(y_key):
            year: int | None = int(groups[y_key])
        else:
            year = cal.year_for_month(month) if cal else None
        if year is None:
            return None
        return _month_day(year, month, day, groups.get(q_key))
    return None


def _half_year(match: re.Match[str], cal: TermCalendar | None) -> date | None:
    which = match.group("h")
    month, day = (6, 30) if which == "上半年" else (12, 31)
    if match.group("y3"):
        return date(int(match.group("y3")), month, day)
    if cal is None:
        return None
    return cal.in_span(date(y, month, day) for y in range(cal.start.year, cal.end.year + 1))


def _point(phrase: str, week: str | None, cal: TermCalendar | None) -> date | None:
    if cal is None:
        return None
    if week:
        n = cn_to_int(week)
        if n is None or not 1 <= n <= 30:
            return None
        return cal.start + timedelta(days=7 * n - 1)
    if phrase in ("学期初", "开学初", "期初"):
        return cal.start + timedelta(days=14)
    if phrase in ("开学", "新学期开学"):
        return cal.start
    if phrase == "开学前":
        return cal.start - timedelta(days=1)
    if phrase in ("期中", "学期中"):
        return cal.mid
    if phrase in ("期末", "学期末", "学期结束", "放假前"):
        return cal.end
    if phrase == "寒假前":
        return cal.end if cal.is_autumn else None
    if phrase == "暑假前":
        return None if cal.is_autumn else cal.end
    if phrase in ("学年末", "学年结束"):
        return cal.year_end
    return None


def _holiday(name: str | None, cal: TermCalendar | None) -> date | None:
    if cal is None or name is None:
        return None
    before_term = cal.start - timedelta(days=1)
    after_term = cal.next_term_start - timedelta(days=1) if cal.next_term_start else None
    if name == "寒假":
        return after_term if cal.is_autumn else before_term
    if name == "暑假":
        if cal.is_autumn:
            return before_term
        return after_term or date(cal.end.year, 8, 31)
    return None


def _festival(name: str, cal: TermCalendar | None) -> date | None:
    if cal is None:
        return None
    key = name[:-1] if name.endswith("节") and name[:-1] in LUNAR_FESTIVALS else name
    years = range(cal.start.year, cal.end.year + 1)
    if key in LUNAR_FESTIVALS:
        table = LUNAR_FESTIVALS[key]
        return cal.in_span(date(y, *table[y]) for y in years if y in table)
    if key in FIXED_FESTIVALS:
        return cal.in_span(date(y, *FIXED_FESTIVALS[key]) for y in years)
    return None


def _time_hint(match: re.Match[str], cal: TermCalendar | None) -> TimeHint:
    phrase = match.group(0)
    kind = match.lastgroup or ""
    if kind in ("ymd", "glued", "md", "mdc", "mdc2"):
        return TimeHint(phrase, "month", _month_hint(match, cal))
    if kind == "half":
        return TimeHint(phrase, "period", _half_year(match, cal))
    if kind == "rec":
        return TimeHint(phrase, "recurrence", recurrence=_RECURRENCE.get(match.group("unit")))
    if kind == "rec2":
        return TimeHint(phrase, "recurrence",
                        recurrence={"天天": "daily", "周周": "weekly", "月月": "monthly"}[phrase])
    if kind == "pt":
        week = match.group("wk1") or match.group("wk2")
        return TimeHint(phrase, "point", _point(phrase, week, cal))
    if kind == "hol":
        return TimeHint(phrase, "period", _holiday(match.group("holname"), cal))
    return TimeHint(phrase, "festival", _festival(phrase, cal))


def find_times(text: str, calendar: TermCalendar | None = None) -> list[TimeHint]:
    """Time phrases in text order, resolved against ``calendar`` when given."""
    hints: list[TimeHint] = []
    seen: set[str] = set()
    for match in _TIME_RE.finditer(text):
        hint = _time_hint(match, calendar)
        key = hint.phrase.removesuffix("节") if hint.kind == "festival" else hint.phrase
        if key not in seen:
            seen.add(key)
            hints.append(hint)
    return hints


def resolve_time_phrase(phrase: str, calendar: TermCalendar | None) -> date | None:
    """The due date of one time phrase (e.g. a spreadsheet's 完成时限 cell), or None."""
    dates = [h.due for h in find_times(phrase, calendar) if h.due is not None]
    return max(dates) if dates else None


# --------------------------------------------------------------------------- targets

_QTY = (r"(?:\d{1,9}(?:[.,]\d{1,6})?|[一二两三四五六七八九十百千万半]{1,6})\s{0,3}(?:个|次|节|篇|人次|人|名|项|本|"
        r"份|场|期|堂|课时|学时|课|小时|分钟|天|周|册|幅|件|首|张|部|套|遍|万字|字|分|元|万元|"
        r"%|％|周岁)")
_TARGET_RE = re.compile(
    r"(?=[\d百至不超多达每人各一二两三四五六七八九十半])(?:" + "|".join([
        r"\d{1,9}(?:[.,]\d{1,6})?\s{0,3}[%％]",
        r"百分之[零一二三四五六七八九十百]{1,6}",
        r"(?:至少|不少于|不低于|不得少于|不得低于|超过|多于|不超过|达到|达)[^，,。；;：:]{0,8}?" + _QTY,
        r"(?:每人|人人|每位|每名|每个(?:教师|老师|学生|班级|班)|各班)[^，,。；;：:]{0,12}?" + _QTY,
        r"(?:\d{1,9}|[一二两三四五六七八九十百]{1,6})\s{0,3}(?:次|节|篇|人|名|项|本|份|场|个|课时|学时|小时|分钟|天)"
        r"(?:以上|及以上)",
        r"(?:\d{1,9}|[一二两三四五六七八九十半]{1,6})\s{0,3}(?:个)?(?:小时|分钟|课时|学时)(?!制)",
    ]) + ")"
)
_TARGET_CLAUSE = re.compile(r"[。；;！？!?\n：:]|(?<!\d)[，,]|[，,](?!\d)")


def find_targets(text: str) -> list[TargetHint]:
    """Clauses holding a quantified target, in text order."""
    hints: list[TargetHint] = []
    start = 0
    for boundary in [*_TARGET_CLAUSE.finditer(text), None]:
        end = boundary.start() if boundary else len(text)
        clause = text[start:end].strip()
        if clause and _TARGET_RE.search(clause):
            hints.append(TargetHint(clause))
        start = boundary.end() if boundary else end
    return hints


# --------------------------------------------------------------------------- all


def extract_hints(text: str, departments: Sequence[str] | None = None,
                  calendar: TermCalendar | None = None) -> Hints:
    """All hints of one measure's text."""
    return Hints(owners=find_owners(text, departments), times=find_times(text, calendar),
                 targets=find_targets(text))
