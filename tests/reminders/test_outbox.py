"""The outbox: idempotent sweeps, retries, recovery after a crash, bad channels isolated."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from tests.reminders.helpers import MONDAY, at, close_task, outbox, school
from tracker.extensions import db
from tracker.models import (
    ChannelKind,
    GroupChannel,
    Notification,
    NotificationStatus,
)
from tracker.reminders import outbox as sender
from tracker.reminders.jobs import sweep


def test_remind_twice_with_the_same_now_sends_nothing_the_second_time(app, runner, smtp_server):
    school(app, [("检查", "zh", MONDAY + timedelta(days=1)), ("总结", "en", MONDAY - timedelta(days=1))])
    now = "2024-10-14T09:05+08:00"
    first = runner.invoke(args=["tracker", "remind", "--now", now])
    assert first.exit_code == 0, first.output
    sent_first = [line.split()[1] for line in first.output.splitlines()
                  if line.startswith("sent ")]
    # 2 reminders + 2 owners' digests + the leader's weekly digest (a Monday), twice each.
    assert sorted(sent_first) == ["email"] * 5 + ["in_app"] * 5
    assert len(smtp_server.wait_for(5)) == 5
    second = runner.invoke(args=["tracker", "remind", "--now", now])
    assert second.exit_code == 0, second.output
    assert not [line for line in second.output.splitlines() if line.startswith(("sent", "planned"))]
    assert "planned 0" in second.output
    assert len(smtp_server.messages) == 5


def test_dry_run_changes_nothing(app, runner, smtp_server):
    school(app, [("检查", "zh", MONDAY)])
    result = runner.invoke(args=["tracker", "remind", "--now", "2024-10-14T09:00", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would send" in result.output and "nothing changed" in result.output
    assert outbox(app) == [] and smtp_server.messages == []


def test_bad_now_is_a_clear_error(runner):
    result = runner.invoke(args=["tracker", "remind", "--now", "next tuesday"])
    assert result.exit_code == 2 and "is not an ISO date-time" in result.output


def test_in_app_notifications_and_closed_tasks(app):
    data = school(app, [("检查", "zh", MONDAY), ("总结", "zh", MONDAY)])
    close_task(app, data["tasks"]["总结"])
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_TIMEOUT=1)
    with app.app_context():
        sweep(at(MONDAY, 9), kinds=("reminders",))
    rows = outbox(app, channel="in_app")
    assert [(r["key"].split(":")[2], r["status"]) for r in rows] == [("due", "sent")]


def test_a_task_closed_after_planning_is_cancelled_not_sent(app):
    data = school(app, [("检查", "zh", MONDAY)])
    with app.app_context():
        sweep(at(MONDAY, 9), kinds=("reminders",), send=False)
    close_task(app, data["tasks"]["检查"])
    with app.app_context():
        outcomes = sweep(at(MONDAY, 9, 5), kinds=()).outcomes
    assert {o.status for o in outcomes} == {"cancelled"}


def test_stale_rows_fold_into_the_digest_and_quiet_hours_defer(app):
    school(app, [("检查", "zh", MONDAY)])
    with app.app_context():
        sweep(at(MONDAY, 21, 50), kinds=("reminders",), send=False)
        # The scheduler was down: at 23:00 nothing may go out; it waits for 07:00.
        outcomes = sweep(at(MONDAY, 23), kinds=()).outcomes
    assert {o.status for o in outcomes} == {"deferred"}
    assert {r["next"] for r in outbox(app)} == {at(MONDAY + timedelta(days=1), 7)}
    with app.app_context():
        # Still down until after the next morning's digest: stale, folded, not sent.
        outcomes = sweep(at(MONDAY + timedelta(days=1), 7, 31), kinds=()).outcomes
    assert {o.status for o in outcomes} == {"folded"}


def test_recovery_after_a_crash(app):
    school(app, [("检查", "zh", MONDAY), ("总结", "en", MONDAY)])
    with app.app_context():
        sweep(at(MONDAY, 9), kinds=("reminders",), send=False)
        ids = db.session.execute(db.select(Notification.id).where(
            Notification.channel == "email").order_by(Notification.id)).scalars().all()
        past = sender.wall_clock() - timedelta(minutes=1)
        # A dead sender left one row claimed (never started) and one mid-send.
        db.session.execute(update(Notification).where(Notification.id == ids[0]).values(
            status=NotificationStatus.claimed, claimed_by="dead", claimed_until=past))
        db.session.execute(update(Notification).where(Notification.id == ids[1]).values(
            status=NotificationStatus.sending, claimed_by="dead", claimed_until=past))
        db.session.commit()
        assert sender.recover() == 2
        statuses = dict(db.session.execute(db.select(Notification.id, Notification.status)
                                           .where(Notification.id.in_(ids))).all())
        assert statuses == {ids[0]: NotificationStatus.pending,
                            ids[1]: NotificationStatus.failed}
        row = db.session.get(Notification, ids[1])
        assert row.last_error.startswith("delivery uncertain")


def test_a_row_claimed_by_another_sender_is_never_sent_by_this_one(app):
    school(app, [("检查", "zh", MONDAY)])
    with app.app_context():
        sweep(at(MONDAY, 9), kinds=("reminders",), send=False)
        ids = sender.claim("sender-a", at(MONDAY, 9))
        assert ids
        assert sender.claim("sender-b", at(MONDAY, 9)) == []
        assert sender.send_one(ids[0], "sender-b", at(MONDAY, 9), {}) is None


def test_one_bad_robot_does_not_block_the_others(app, webhook_server):
    data = school(app, [("检查", "zh", MONDAY)])
    with app.app_context():
        good = GroupChannel(organization_id=data["org"], kind=ChannelKind.wecom, name="教务群",
                            department_id=data["dept"],
                            webhook_url=webhook_server.url("/cgi-bin/webhook/send?key=k"))
        bad = GroupChannel(organization_id=data["org"], kind=ChannelKind.dingtalk, name="坏的",
                           webhook_url="https://example.com/robot/send?access_token=t")
        db.session.add_all([bad, good])
        db.session.commit()
        good_id, bad_id = good.id, bad.id
        outcomes = sweep(at(MONDAY, 8), kinds=("daily",)).outcomes
        robot_outcomes = {o.channel: o for o in outcomes if o.channel in ("wecom", "dingtalk")}
        assert robot_outcomes["wecom"].status == "sent"
        assert robot_outcomes["dingtalk"].status == "failed"
        assert "example.com is not allowed" in robot_outcomes["dingtalk"].error
        assert db.session.get(GroupChannel, bad_id).last_error.startswith("host example.com")
        assert db.session.get(GroupChannel, good_id).last_ok_at is not None
    [req] = webhook_server.requests
    content = req["json"]["markdown"]["content"]
    assert "检查" in content and f"/tasks/{data['tasks']['检查']}" in content


def test_webhook_500_retries_then_fails_visibly(app, webhook_server):
    webhook_server.status = 500
    data = school(app, [("检查", "zh", MONDAY)])
    with app.app_context():
        db.session.add(GroupChannel(organization_id=data["org"], kind=ChannelKind.wecom,
                                    name="群", webhook_url=webhook_server.url("/send?key=k")))
        db.session.commit()
        t = at(MONDAY, 8)
        sweep(t, kinds=("daily",))
        for delay in (1, 5, 15, 60):
            t += timedelta(minutes=delay)
            sweep(t, kinds=())
    rows = outbox(app, kind="group_digest")
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 5)]
    assert rows[0]["error"] == "127.0.0.1 answered HTTP 500"
    assert len(webhook_server.requests) == 5
