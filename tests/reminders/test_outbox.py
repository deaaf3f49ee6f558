"""The outbox: idempotent sweeps, retries, recovery after a crash, bad channels isolated."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import update

from tests.reminders.helpers import MONDAY, at, close_task, outbox, robot_notes, school
from tracker.extensions import db
from tracker.models import (
    ChannelKind,
    GroupChannel,
    Notification,
    NotificationStatus,
    SenderLease,
)
from tracker.reminders import outbox as sender
from tracker.reminders.channels import webhooks
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


def _claims(app) -> dict[str, list]:
    with app.app_context():
        rows = db.session.execute(db.select(Notification.status, Notification.claimed_by,
                                            Notification.claimed_until)
                                  .order_by(Notification.id)).all()
        lease = db.session.get(SenderLease, sender.LEASE_NAME)
        result = {"status": [r.status.value for r in rows],
                  "claimed": [r.claimed_by or r.claimed_until for r in rows if
                              r.claimed_by or r.claimed_until],
                  "lease_held": lease is not None and lease.expires_at > sender.wall_clock()}
        db.session.remove()
        return result


def test_a_stop_ends_the_sweep_after_the_send_in_progress(app, webhook_server, monkeypatch):
    """The scheduler is stopping: the send under way finishes, the rest of the batch goes
    back to pending at once (not after the claim's ten minutes), the lease is let go."""
    data = school(app)
    robot_notes(app, data, webhook_server.url("/send?key=k"), 4, due=at(MONDAY, 8))
    stop = threading.Event()
    send = webhooks.send

    def send_then_stop(*args, **kwargs):
        stop.set()  # the signal arrives during the call
        send(*args, **kwargs)
    monkeypatch.setattr(webhooks, "send", send_then_stop)
    with app.app_context():
        outcomes = sender.deliver(at(MONDAY, 9), stop=stop)
    assert [o.status for o in outcomes] == ["sent"]
    assert len(webhook_server.requests) == 1
    assert _claims(app) == {"status": ["sent", "pending", "pending", "pending"], "claimed": [],
                            "lease_held": False}
    with app.app_context():
        assert sender.deliver(at(MONDAY, 9), stop=stop) == []  # stopped: claims nothing
    monkeypatch.setattr(webhooks, "send", send)
    with app.app_context():  # the next sender (a restarted scheduler) goes on at once
        outcomes = sender.deliver(at(MONDAY, 9, 1))
    assert [o.status for o in outcomes] == ["sent"] * 3
    assert len(webhook_server.requests) == 4
    assert _claims(app)["status"] == ["sent"] * 4


def test_a_robot_token_reaches_no_log_and_no_stored_error(app, webhook_server, monkeypatch,
                                                          caplog):
    """A stored URL with a space in its query (saved before the check, or let through):
    http.client's own error quotes the URL with the token and the DingTalk signature."""
    caplog.set_level(logging.DEBUG)
    data = school(app)
    url = webhook_server.url("/robot/send?access_token=TOKEN123 x")
    robot_notes(app, data, url, 1, due=at(MONDAY, 8), kind=ChannelKind.dingtalk,
                secret="SECRET456")
    with app.app_context():
        [refused] = sender.deliver(at(MONDAY, 9))
    assert (refused.status, refused.error) == ("failed", webhooks.UNSAFE_CHARACTERS)
    # Past the check (as before it existed): the request itself fails, quoting the URL.
    monkeypatch.setattr(webhooks, "check_url", lambda kind, url, extra_hosts=(): "127.0.0.1")
    with app.app_context():
        db.session.execute(update(Notification).values(status=NotificationStatus.pending))
        db.session.commit()
        [failed] = sender.deliver(at(MONDAY, 9, 5))
        channel_error = db.session.execute(db.select(GroupChannel.last_error)).scalar_one()
    assert failed.status == "failed" and "127.0.0.1" in failed.error
    assert "InvalidURL" in failed.error and webhook_server.requests == []
    stored = [r["error"] for r in outbox(app)] + [channel_error]
    logged = [r.getMessage() + "\n" + (logging.Formatter().formatException(r.exc_info)
                                         if r.exc_info else "") for r in caplog.records]
    assert logged and stored
    for secret in ("TOKEN123", "SECRET456", "sign="):
        assert not [text for text in logged + stored if secret in text]
