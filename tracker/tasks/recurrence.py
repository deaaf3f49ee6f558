"""Occurrences of a recurring measure within a term (pure).

每天 → every school day (Monday–Friday); 每周 → one per week, due on its Friday;
每月 → one per calendar month, due on its last day; 每学期 → one, due at term end;
每学年 → one, due at term end. Periods are clipped to the term, and a period
at either edge shorter than two days (weeks) or seven days (months) is merged into
its neighbour, so nobody gets a "weekly" task due the day after term starts.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

MIN_DAYS = {"weekly": 2, "monthly": 7}


@dataclass(frozen=True)
class Occurrence:
    index: int       # 1-based
    start: date
    due: date
    label: str       # e.g. "第3周", "2024年10月"


def _weeks(start: date, end: date) -> list[tuple[date, date]]:
    periods = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        friday = monday + timedelta(days=4)
        periods.append((max(monday, start), min(friday, end)))
        monday += timedelta(days=7)
    return [(s, d) for s, d in periods if s <= d]


def _months(start: date, end: date) -> list[tuple[date, date]]:
    periods = []
    first = start.replace(day=1)
    while first <= end:
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        periods.append((max(first, start), min(last, end)))
        first = last + timedelta(days=1)
    return periods


def _school_days(start: date, end: date) -> list[tuple[date, date]]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append((day, day))
        day += timedelta(days=1)
    return days


def _merge_short_edges(periods: list[tuple[date, date]], min_days: int) -> list[tuple[date, date]]:
    if len(periods) > 1 and (periods[0][1] - periods[0][0]).days + 1 < min_days:
        periods = [(periods[0][0], periods[1][1])] + periods[2:]
    if len(periods) > 1 and (periods[-1][1] - periods[-1][0]).days + 1 < min_days:
        periods = periods[:-2] + [(periods[-2][0], periods[-1][1])]
    return periods


def occurrences(rule: str, term_start: date, term_end: date) -> list[Occurrence]:
    if term_end < term_start:
        return []
    if rule == "daily":
        periods = _school_days(term_start, term_end)
        labels = [s.strftime("%Y-%m-%d") for s, _ in periods]
    elif rule == "weekly":
        periods = _merge_short_edges(_weeks(term_start, term_end), MIN_DAYS[rule])
        labels = [f"第{i}周" for i in range(1, len(periods) + 1)]
    elif rule == "monthly":
        periods = _merge_short_edges(_months(term_start, term_end), MIN_DAYS[rule])
        labels = [f"{s.year}年{s.month}月" for s, _ in periods]
    elif rule in ("termly", "yearly"):
        periods = [(term_start, term_end)]
        labels = ["本学期"]
    else:
        raise ValueError(f"unknown recurrence rule {rule!r}")
    return [Occurrence(i, s, d, label)
            for i, ((s, d), label) in enumerate(zip(periods, labels), start=1)]
