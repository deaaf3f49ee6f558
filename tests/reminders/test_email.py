"""E-mail reminders through a real SMTP server (aiosmtpd on 127.0.0.1)."""
from __future__ import annotations

from datetime import timedelta

from tests.reminders.helpers import MONDAY, at, outbox, school
from tracker.extensions import db
from tracker.reminders.jobs import sweep


def _only_email(app):
    from tracker.models import NotificationPreference, User

    with app.app_context():
        for user in db.session.execute(db.select(User)).scalars():
            db.session.add(NotificationPreference(user_id=user.id, email=True, in_app=False,
                                                  daily_digest=False, weekly_digest=False))
        db.session.commit()
        db.session.remove()


def test_reminders_reach_the_owner_in_their_language_with_a_link(app, smtp_server):
    data = school(app, [("开展教学常规检查", "zh", MONDAY + timedelta(days=1)),
                        ("Parents' meeting", "en", MONDAY + timedelta(days=7))])
    _only_email(app)
    with app.app_context():
        result = sweep(at(MONDAY, 9, 5), kinds=("reminders",))
    assert [o.status for o in result.outcomes] == ["sent", "sent"]
    mails = smtp_server.wait_for(2)
    by_to = {m["to"][0]: m for m in mails}
    assert set(by_to) == {"zhang@school.test", "emma@school.test"}

    zh = by_to["zhang@school.test"]["msg"]
    assert zh["To"].addresses[0].display_name == "张伟"
    assert "开展教学常规检查" in zh["Subject"]
    zh_text = zh.get_body(("plain",)).get_content()
    zh_html = zh.get_body(("html",)).get_content()
    link = f"https://tracker.school.test/tasks/{data['tasks']['开展教学常规检查']}"
    assert link in zh_text and f'href="{link}"' in zh_html
    assert "2024年10月15日" in zh_text  # Chinese date format: the recipient's language

    en = by_to["emma@school.test"]["msg"]
    assert en["Subject"].startswith("[Plan Tracker] Due in 7 days")
    en_text = en.get_body(("plain",)).get_content()
    assert "Hello Emma" in en_text and "Oct 21, 2024" in en_text
    assert f"https://tracker.school.test/tasks/{data['tasks'][chr(80) + 'arents' + chr(39) + ' meeting']}" in en_text
    assert by_to["emma@school.test"]["from"] == "tracker@school.test"


def test_smtp_down_retries_with_backoff_then_a_visible_failure(app):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_TIMEOUT=2)  # nobody listens
    school(app, [("检查", "zh", MONDAY)])
    _only_email(app)
    now = at(MONDAY, 9)
    with app.app_context():
        first = sweep(now, kinds=("reminders",))
    assert [o.status for o in first.outcomes] == ["retry"]
    assert "cannot reach SMTP server 127.0.0.1:9" in first.outcomes[0].error
    [row] = outbox(app)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["next"] == now + timedelta(minutes=1)
    # Sweeps at the backoff times: 1, 5, 15, 60 minutes after each failure, then given up.
    t = now
    for delay, expected in [(1, "retry"), (5, "retry"), (15, "retry"), (60, "failed")]:
        t = t + timedelta(minutes=delay)
        with app.app_context():
            assert sweep(t - timedelta(seconds=1), kinds=()).outcomes == []  # not yet due
            assert [o.status for o in sweep(t, kinds=()).outcomes] == [expected]
    [row] = outbox(app)
    assert row["status"] == "failed" and row["attempts"] == 5
    assert "cannot reach SMTP server" in row["error"]


def test_smtp_refusal_4xx_is_retried(app, smtp_server):
    smtp_server.fail_with = "451 4.3.0 try again later"
    school(app, [("检查", "zh", MONDAY)])
    _only_email(app)
    with app.app_context():
        result = sweep(at(MONDAY, 9), kinds=("reminders",))
    assert result.outcomes[0].status == "retry" and "451" in result.outcomes[0].error


def test_smtp_login_problem_is_reported_without_the_password(app, smtp_server):
    import logging

    app.config.update(MAIL_USERNAME="tracker", MAIL_PASSWORD="hunter2-secret")
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Collect(level=logging.DEBUG)
    logger = logging.getLogger("tracker")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        school(app, [("检查", "zh", MONDAY)])
        _only_email(app)
        with app.app_context():
            result = sweep(at(MONDAY, 9), kinds=("reminders",))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    [outcome] = result.outcomes
    assert outcome.status in ("retry", "failed") and "127.0.0.1" in outcome.error
    assert records and not any("hunter2-secret" in r for r in records)
    assert "hunter2-secret" not in outcome.error
    assert smtp_server.messages == []
