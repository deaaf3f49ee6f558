"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""
from datetime import datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from tracker.extensions import db
from tracker.models import GroupChannel


def test_upgrade_from_empty_matches_the_models_and_downgrades_cleanly(app):
    with app.app_context():
        db.drop_all()
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "render_as_batch": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        upgrade()  # leave a schema for the fixture's teardown / next test
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        db.create_all()


def test_robots_stored_in_plain_text_survive_the_upgrade_and_a_downgrade_decrypts(app, runner):
    """0008: plain-text credentials written before encryption still work; downgrading
    gives the previous version plain text back."""
    url = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN0123456789"
    raw = text("SELECT webhook_url, secret FROM group_channels WHERE id = 1")
    with app.app_context():
        db.drop_all()
        upgrade(revision="0007_audit_log")
        now = datetime(2024, 10, 14, 8, 0)
        db.session.execute(text(
            "INSERT INTO organizations (id, name, kind, timezone, requires_acceptance, "
            "stale_after_days, created_at) VALUES (1, '实验小学', 'school', 'Asia/Shanghai', "
            ":no, 14, :now)"), {"no": False, "now": now})
        db.session.execute(text(
            "INSERT INTO group_channels (id, organization_id, kind, name, webhook_url, secret, "
            "enabled, created_at) VALUES (1, 1, 'dingtalk', '教务群', :url, 'SECabc', :yes, "
            ":now)"), {"url": url, "yes": True, "now": now})
        # A robot's notification: rebuilding group_channels must not cascade it away.
        db.session.execute(text(
            "INSERT INTO notifications (id, organization_id, idempotency_key, kind, channel, "
            "group_channel_id, local_day, payload, status, attempts, next_attempt_at, "
            "created_at) VALUES (1, 1, 'k1', 'digest', 'dingtalk', 1, :day, '{}', 'sent', 1, "
            ":now, :now)"), {"day": now.date(), "now": now})
        db.session.commit()
        notifications = text("SELECT count(*) FROM notifications WHERE group_channel_id = 1")
        upgrade()
        assert db.session.execute(notifications).scalar() == 1
        channel = db.session.get(GroupChannel, 1)
        assert (channel.webhook_url, channel.secret) == (url, "SECabc")
        db.session.remove()
    result = runner.invoke(args=["tracker", "encrypt-secrets"])
    assert "of which 1 were in plain text" in result.output, result.output
    with app.app_context():
        assert all(v.startswith("fernet:") for v in db.session.execute(raw).one())
        db.session.remove()
        downgrade(revision="0007_audit_log")
        assert tuple(db.session.execute(raw).one()) == (url, "SECabc")
        assert db.session.execute(notifications).scalar() == 1
        db.session.remove()
        downgrade(revision="base")
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        db.create_all()
