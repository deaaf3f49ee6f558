"""Default school calendar (pure): which term a day falls in, and its usual dates.

A 学年 runs September to July. 第一学期 (autumn): 1 September to about 20 January;
第二学期 (spring): about 20 February to early July. 期中 falls in week 9–10.
Organisations keep their own dates; these are only the defaults offered.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class TermDates:
    name: str
    school_year: str
    start: date
    mid: date
    end: date


def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def default_term(day: date) -> TermDates:
    """The term containing ``day`` (holidays belong to the term that follows)."""
    if day.month >= 8 or (day.month == 1 and day.day <= 20):
        first_year = day.year if day.month >= 8 else day.year - 1
        start = date(first_year, 9, 1)
        end = date(first_year + 1, 1, 20)
        semester = "第一学期"
    else:
        first_year = day.year - 1
        start = _monday_on_or_after(date(day.year, 2, 20))
        end = date(day.year, 7, 3)
        semester = "第二学期"
    school_year = f"{first_year}—{first_year + 1}"
    mid = _monday_on_or_after(start) + timedelta(weeks=9)
    return TermDates(name=f"{school_year}学年{semester}", school_year=school_year,
                     start=start, mid=mid, end=end)
