"""Configuration read from the environment, with safe defaults.

Every setting can be overridden by an environment variable of the same name.
The SQLite default lives in the Flask instance folder; ``create_app`` fills it
in because only the app knows where that folder is.
"""
from __future__ import annotations

import os


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Problems found while reading the environment; create_app reports them as one line.
PROBLEMS: list[str] = []


def _int(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        PROBLEMS.append(f"{name} must be a whole number, got {value!r}")
        return default
    if minimum is not None and number < minimum:
        PROBLEMS.append(f"{name} must be at least {minimum}, got {number}")
        return default
    return number


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me")
    # Robot webhook URLs and signing secrets are stored encrypted (tracker/crypto.py) with
    # this Fernet key; unset, a key derived from SECRET_KEY. Old keys still decrypt
    # (comma-separated), for rotation. create_app checks them.
    DATA_ENCRYPTION_KEY = os.environ.get("DATA_ENCRYPTION_KEY") or None
    DATA_ENCRYPTION_OLD_KEYS = os.environ.get("DATA_ENCRYPTION_OLD_KEYS", "")
    # None means "SQLite file in the instance folder" (resolved by create_app).
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = _int("SQLITE_BUSY_TIMEOUT_MS", 30_000)

    TIMEZONE = os.environ.get("TIMEZONE", "Asia/Shanghai")
    BABEL_DEFAULT_LOCALE = os.environ.get("BABEL_DEFAULT_LOCALE", "zh_CN")
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = {"zh_CN": "简体中文", "en": "English"}

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "plan-tracker@localhost")
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 10)

    # Reminders: links in messages, and group robots (DingTalk/WeCom/Feishu hosts are
    # always allowed; list others, comma-separated, e.g. an internal proxy).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:5000")
    WEBHOOK_ALLOWED_HOSTS = [h.strip() for h in os.environ.get("WEBHOOK_ALLOWED_HOSTS", "")
                             .split(",") if h.strip()]
    WEBHOOK_TIMEOUT = _int("WEBHOOK_TIMEOUT", 10)

    # Uploads: plans (10 MB) and evidence (20 MB); the request cap is the larger.
    PLAN_UPLOAD_MAX_BYTES = _int("PLAN_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
    EVIDENCE_MAX_BYTES = _int("EVIDENCE_MAX_BYTES", 20 * 1024 * 1024)
    STAFF_IMPORT_MAX_BYTES = _int("STAFF_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 25 * 1024 * 1024)
    # Text fields of a form (a long note gets our own clear limit, not a bare 413).
    MAX_FORM_MEMORY_SIZE = _int("MAX_FORM_MEMORY_SIZE", 2 * 1024 * 1024)
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER")  # default: <instance>/uploads

    BOOTSTRAP_SERVE_LOCAL = True
    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True

    # Scheduler: hosted by `make run` in development, its own process in production.
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    # How often the reminder sweep runs (plan what is due, then send the outbox).
    REMINDER_SWEEP_SECONDS = _int("REMINDER_SWEEP_SECONDS", 300, minimum=1)
    # On SIGTERM the scheduler process waits this long for a running job (below systemd's
    # TimeoutStopSec, 90 s, after which it is killed).
    SCHEDULER_STOP_SECONDS = _int("SCHEDULER_STOP_SECONDS", 60, minimum=1)
    STALE_AFTER_DAYS_DEFAULT = _int("STALE_AFTER_DAYS", 14)
    PASSWORD_MIN_LENGTH = 8
    # Login attempts: per client address and per account name (Flask-Limiter).
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    LOGIN_ACCOUNT_RATE_LIMIT = os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT", "5 per minute")
    REDIS_URL = os.environ.get("REDIS_URL")  # rate-limit storage shared by all workers
    RATELIMIT_HEADERS_ENABLED = True
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Term report: a draft this many days before the term ends, the final one on its last day.
    REPORT_DAYS_BEFORE_END = _int("REPORT_DAYS_BEFORE_END", 3)
    # A report generating (or being mailed) with no sign of life for this long is taken to
    # be cut off (process killed, or hanging) and is taken over. The slowest real
    # generations take seconds (a 300-measure school's PDF ~3 s, a 100-school district
    # ~2 s) and each step renews the claim, so 30 minutes never cuts off a live one even
    # on a loaded machine, and a lost report is still redone well within the day.
    REPORT_STALE_MINUTES = _int("REPORT_STALE_MINUTES", 30, minimum=1)


class DevelopmentConfig(Config):
    DEBUG = True


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    WTF_CSRF_ENABLED = False  # tests that check CSRF switch it back on
    SCHEDULER_ENABLED = False
    SQLITE_BUSY_TIMEOUT_MS = 5_000
    RATELIMIT_ENABLED = False  # tests that check limiting switch it on
    SERVER_NAME = "localhost"
    MAIL_SERVER = "127.0.0.1"


class ProductionConfig(Config):
    REQUIRE_SECRET_KEY = True
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    name = os.environ.get("TRACKER_CONFIG", "development").lower()
    if name not in CONFIGS:
        raise ValueError(f"TRACKER_CONFIG must be one of {', '.join(CONFIGS)}, got {name!r}")
    if PROBLEMS:
        raise ValueError("; ".join(PROBLEMS))
    return CONFIGS[name]
