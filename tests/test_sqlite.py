"""SQLite behaves: WAL, foreign keys, busy timeout, and writers that wait instead of failing."""
import threading

import pytest
from sqlalchemy import text

from tracker.extensions import db
from tracker.models import Organization


@pytest.fixture
def sqlite_app(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite-specific behaviour (this run uses PostgreSQL)")
    return app


def test_pragmas(sqlite_app):
    with sqlite_app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_foreign_keys_are_enforced(sqlite_app):
    from sqlalchemy.exc import IntegrityError

    with sqlite_app.app_context():
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            db.session.execute(text(
                "INSERT INTO departments (organization_id, name) VALUES (999, 'x')"))


def test_concurrent_read_then_write_transactions_do_not_fail(sqlite_app):
    """Each thread reads and then writes in one transaction: the pattern that fails with
    'database is locked' under deferred BEGIN. With BEGIN IMMEDIATE they queue."""
    with sqlite_app.app_context():
        org = Organization(name="并发测试", stale_after_days=1)
        db.session.add(org)
        db.session.commit()
        org_id = org.id
    errors: list[Exception] = []

    def worker():
        try:
            for _ in range(20):
                with sqlite_app.app_context():
                    current = db.session.get(Organization, org_id)
                    current.stale_after_days = current.stale_after_days + 1
                    db.session.commit()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sqlite_app.app_context():
        assert db.session.get(Organization, org_id).stale_after_days == 1 + 4 * 20
