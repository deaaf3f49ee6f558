"""Locale and time-zone selection, and display filters.

Babel parses ``zh_CN`` as ``zh_Hans_CN``; gettext then looks for catalogs named
``zh_Hans_CN`` and ``zh``. The Chinese catalog therefore lives in
``translations/zh`` (a folder named ``zh_CN`` would be silently ignored).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import force_locale, format_date, format_datetime, get_locale
from flask_login import current_user

SUPPORTED = ("zh_CN", "en")


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_")
    if value.lower().startswith("zh"):
        return "zh_CN"
    if value.lower().startswith("en"):
        return "en"
    return None


@cache
def _parsed(code: str) -> Locale:
    # Flask-Babel parses whatever the selector returns; parsing "zh_CN" costs ~150 µs
    # (Babel scans its list of locales), once per request. A Locale passes through as is.
    return Locale.parse(code)


def select_locale() -> Locale:
    return _parsed(_select_locale_code())


def _select_locale_code() -> str:
    if not has_request_context():  # CLI commands and scheduler jobs
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated:
        chosen = normalise_locale(current_user.locale)
        if chosen:
            return chosen
    chosen = normalise_locale(session.get("locale"))
    if chosen:
        return chosen
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    return normalise_locale(best) or current_app.config["BABEL_DEFAULT_LOCALE"]


def org_timezone_name() -> str:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.organization.timezone
    return current_app.config["TIMEZONE"]


def select_timezone() -> str:
    return org_timezone_name()


def local_now(tz_name: str | None = None) -> datetime:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(tz_name or org_timezone_name()))


def local_today(tz_name: str | None = None) -> date:
    return local_now(tz_name).date()


_DATES: dict[tuple[date, str, str], str] = {}


def localdate(value: date | None, fmt: str = "medium") -> str:
    """A calendar date in the user's language ("2024年10月8日"); "" for none.

    Lists show the same few dates many times, and a term has few dates: each is formatted
    once per process and language (a calendar date needs no time zone)."""
    if not value:
        return ""
    locale = get_locale()  # looked up each time: force_locale may switch languages
    if isinstance(value, datetime) or locale is None:  # a datetime is shown in the user's
        return format_date(value, fmt)                 # time zone: not cached
    return _cached_date(value, fmt, str(locale))


def date_formatter(fmt: str = "medium") -> Callable[[date], str]:
    """``localdate`` for a page of dates, in the language of the moment."""
    locale = get_locale()
    if locale is None:
        return lambda value: localdate(value, fmt)
    code = str(locale)
    return lambda value: (localdate(value, fmt) if isinstance(value, datetime)
                          else _cached_date(value, fmt, code) if value else "")


def _cached_date(value: date, fmt: str, locale: str) -> str:
    key = (value, fmt, locale)
    text = _DATES.get(key)
    if text is None:
        if len(_DATES) > 20_000:  # a few years in two languages; then start again
            _DATES.clear()
        with force_locale(_parsed(locale)):
            text = _DATES[key] = format_date(value, fmt)
    return text


def register_filters(app: Flask) -> None:
    @app.template_filter("localdt")
    def _localdt(value: datetime | None, fmt: str = "short") -> str:
        # Flask-Babel converts from UTC to the selected (organisation) time zone.
        return format_datetime(value, fmt) if value else ""

    app.add_template_filter(localdate)

    @app.context_processor
    def _inject() -> dict:
        return {"current_locale": str(get_locale() or ""), "languages": app.config["LANGUAGES"]}
