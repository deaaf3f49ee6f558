"""Locale and time-zone selection, and display filters.

Babel parses ``zh_CN`` as ``zh_Hans_CN``; gettext then looks for catalogs named
``zh_Hans_CN`` and ``zh``. The Chinese catalog therefore lives in
``translations/zh`` (a folder named ``zh_CN`` would be silently ignored).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import format_date, format_datetime, get_locale
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


def select_locale() -> str:
    if not has_request_context():  # CLI commands and scheduler jobs
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale:
        return current_user.locale
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


def register_filters(app: Flask) -> None:
    @app.template_filter("localdt")
    def _localdt(value: datetime | None, fmt: str = "short") -> str:
        # Flask-Babel converts from UTC to the selected (organisation) time zone.
        return format_datetime(value, fmt) if value else ""

    @app.template_filter("localdate")
    def _localdate(value: date | None, fmt: str = "medium") -> str:
        # Lists show the same few dates many times: format each once per request.
        if not value:
            return ""
        memo = g.setdefault("_localdate", {})
        key = (value, fmt, get_locale())  # force_locale may switch languages mid-request
        if key not in memo:
            memo[key] = format_date(value, fmt)
        return memo[key]

    @app.context_processor
    def _inject() -> dict:
        return {"current_locale": str(get_locale() or ""), "languages": app.config["LANGUAGES"]}
