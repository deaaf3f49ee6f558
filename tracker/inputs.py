"""Whole numbers typed into forms, URLs and command lines (pure; no Flask).

``str.isdigit`` is also true for "²", "٣" and for strings of thousands of digits, which
``int`` rejects or reads into numbers no database column holds; a view that trusted it
answered 500. ``whole_number`` accepts ASCII digits only, within bounds.
"""
from __future__ import annotations

MAX_ID = 2**31 - 1  # no larger id can exist (and PostgreSQL rejects it as an integer)
MAX_DIGITS = 18


def whole_number(text: str | None, maximum: int | None = MAX_ID) -> int | None:
    """The number written in ``text`` (surrounding spaces allowed), or None when it is not
    a plain whole number or is above ``maximum`` (no bound: ``maximum=None``)."""
    if text is None:
        return None
    text = text.strip()
    if not text or len(text) > MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return None if maximum is not None and number > maximum else number
