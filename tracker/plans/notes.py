"""The parser's reading notes in the reader's language.

The parser (pure, no Flask) gives each note as English text that also names its kind and
values (``parsing.ParseWarning``); the import preview flashes them and ``flask plan parse``
prints them, both through :func:`note_text` in Flask-Babel's current locale.
"""
from __future__ import annotations

from flask_babel import gettext as _


def note_text(warning: str) -> str:
    """One note in the current locale; a note of no known kind is quoted as written."""
    params = getattr(warning, "params", {})
    texts = {
        "flat": lambda: _("No numbering was found: the text is imported as a flat list of "
                          "paragraphs, one measure each. Check the preview."),
        "inferred": lambda: _("Line %(line)d: number %(number)s was inferred (the automatic "
                              "numbering before %(label)s was lost). Check the preview.",
                              **params),
        "restart": lambda: _("Line %(line)d: the numbering starts again at %(label)s.",
                             **params),
        "sequence": lambda: _("Line %(line)d: %(label)s is out of sequence (%(expected)d was "
                              "expected).", **params),
        "continues": lambda: _("Line %(line)d: %(label)s was taken as the next item of level "
                               "%(level)d, whose numbering it continues.", **params),
        "empty_table": lambda: _("The task table has a header row but no task rows."),
    }
    text = texts.get(getattr(warning, "code", ""))
    return text() if text else _("Reading note: %(note)s", note=warning)


def note_dict(warning: str) -> dict:
    """A note for JSON: its kind, its values and its text in the current locale."""
    return {"code": getattr(warning, "code", None), "params": dict(getattr(warning, "params", {})),
            "message": note_text(warning)}
