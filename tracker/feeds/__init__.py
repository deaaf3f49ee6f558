"""Feeds read by other programs at secret URLs: the personal iCalendar feed."""
