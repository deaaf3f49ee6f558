"""Build an iCalendar (RFC 5545) document of task deadlines (pure: no Flask, no database).

Each deadline is an all-day event on the due date. A due date is a calendar date
of the organisation (its time zone decided which day "today" is when the date
was set), so it is written as a floating DATE: every phone shows it on that day,
wherever it is. ``X-WR-TIMEZONE`` names the organisation's zone for calendars
that want one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event

PRODID = "-//Plan Tracker//Task deadlines//ZH"


@dataclass(frozen=True)
class Deadline:
    uid: str
    title: str
    due: date
    url: str
    description: str
    sequence: int
    last_modified: datetime  # aware
    status_label: str = ""


def build_calendar(name: str, timezone: str, deadlines: list[Deadline],
                   now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", timezone)
    # Ask subscribed calendars to refresh a few times a day.
    calendar.add("refresh-interval", timedelta(hours=4), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT4H")
    for item in deadlines:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", now)
        event.add("last-modified", item.last_modified)
        event.add("sequence", item.sequence)
        event.add("summary", item.title)
        event.add("dtstart", item.due)
        event.add("dtend", item.due + timedelta(days=1))
        event.add("transp", "TRANSPARENT")  # a deadline does not make you busy all day
        event.add("url", item.url)
        event.add("description", item.description)
        if item.status_label:
            event.add("categories", [item.status_label])
        calendar.add_component(event)
    return calendar.to_ical()
