"""Engine set-up: URL validation and SQLite connection behaviour.

SQLite runs in WAL mode with a busy timeout and foreign keys on. A transaction
that will write starts with ``BEGIN IMMEDIATE``: a deferred transaction that
reads and then writes can fail at once with "database is locked" instead of
waiting, because SQLite cannot upgrade its read lock while another writer is
active. A request's intent is known from its method (GET/HEAD read; anything
else may write); CLI commands and scheduler jobs always take the write lock.
"""
from __future__ import annotations

from contextvars import ContextVar

from flask import Flask, request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

_read_only: ContextVar[bool] = ContextVar("sqlite_read_only", default=False)

SUPPORTED_BACKENDS = {"sqlite", "postgresql"}


def check_database_url(url: str) -> str:
    """Validate DATABASE_URL; return it normalised (postgres:// → psycopg 3)."""
    from tracker import ConfigError

    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(f"DATABASE_URL is not a database URL: {url!r} "
                          "(expected e.g. sqlite:///path/tracker.sqlite or "
                          "postgresql://user@host/dbname)") from None
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigError(f"DATABASE_URL names an unsupported database "
                          f"{parsed.get_backend_name()!r}; use sqlite or postgresql")
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(app: Flask) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def configure_engine_options(app: Flask) -> None:
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if is_sqlite(app):
        timeout_s = app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000
        options.setdefault("connect_args", {}).update(
            {"timeout": timeout_s, "check_same_thread": False})
        options.pop("pool_pre_ping", None)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def install_sqlite_hooks(app: Flask) -> None:
    if not is_sqlite(app):
        return
    from tracker.extensions import db

    busy_ms = app.config["SQLITE_BUSY_TIMEOUT_MS"]

    @app.before_request
    def _mark_read_only_requests() -> None:
        _read_only.set(request.method in ("GET", "HEAD", "OPTIONS"))

    @app.teardown_request
    def _reset_read_only(_exc) -> None:
        _read_only.set(False)

    with app.app_context():
        engine = db.engine

    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN" if _read_only.get() else "BEGIN IMMEDIATE")
