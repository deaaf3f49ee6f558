"""Notification pages: bell, inbox, preferences; admin rules, robots and outbox."""
from __future__ import annotations

import re

from tests.conftest import login, recorded_statements
from tests.reminders.helpers import MONDAY, at, outbox, school
from tracker.extensions import db
from tracker.models import (
    ChannelKind,
    GroupChannel,
    Notification,
    NotificationPreference,
    NotificationStatus,
    ReminderSettings,
    Role,
    User,
)
from tracker.reminders.jobs import sweep

PASSWORD = "secret-pass-1"


def _passwords(app):
    with app.app_context():
        for user in db.session.execute(db.select(User)).scalars():
            user.set_password(PASSWORD)
        admin = User(organization_id=user.organization_id, name="管理员",
                     email="admin@school.test", role=Role.admin)
        admin.set_password(PASSWORD)
        db.session.add(admin)
        db.session.commit()
        db.session.remove()


def test_bell_inbox_and_mark_read(app, client):
    data = school(app, [("检查", "zh", MONDAY), ("总结", "zh", MONDAY)])
    _passwords(app)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_TIMEOUT=1)
    with app.app_context():
        sweep(at(MONDAY, 9), kinds=("reminders",))
    login(client, "zhang@school.test")
    with recorded_statements(app) as seen:
        page = client.get("/account/").get_data(as_text=True)
    bell_queries = [s for s in seen if "count(*)" in s.lower() and "notifications" in s]
    assert len(bell_queries) == 1
    assert re.search(r'id="bell-count">2<', page)

    inbox = client.get("/notifications/").get_data(as_text=True)
    assert "Due today: 检查" in inbox or "检查" in inbox
    assert inbox.count("list-group-item-action") == 2
    ids = [n["key"] for n in outbox(app, channel="in_app")]
    assert len(ids) == 2
    with app.app_context():
        first = db.session.execute(db.select(Notification.id).where(
            Notification.channel == "in_app").order_by(Notification.id)).scalars().first()
    response = client.post(f"/notifications/{first}/open")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/tasks/{data['tasks']['检查']}")
    assert re.search(r'id="bell-count">1<', client.get("/account/").get_data(as_text=True))
    client.post("/notifications/read")
    assert 'id="bell-count"' not in client.get("/account/").get_data(as_text=True)


def test_someone_elses_notification_is_404(app, client):
    school(app, [("检查", "zh", MONDAY)])
    _passwords(app)
    with app.app_context():
        sweep(at(MONDAY, 9), kinds=("reminders",), send=False)
        row_id = db.session.execute(db.select(Notification.id)).scalars().first()
    login(client, "emma@school.test")
    assert client.post(f"/notifications/{row_id}/open").status_code == 404


def test_preferences_are_saved_and_used(app, client):
    data = school(app, [("检查", "zh", MONDAY)])
    _passwords(app)
    login(client, "zhang@school.test")
    assert client.get("/notifications/preferences").status_code == 200
    response = client.post("/notifications/preferences", data={"in_app": "y"})
    assert response.status_code == 302
    with app.app_context():
        pref = db.session.get(NotificationPreference, data["user_zh"])
        assert (pref.in_app, pref.email, pref.daily_digest) == (True, False, False)
        sweep(at(MONDAY, 9), kinds=("reminders", "daily"), send=False)
    assert {r["channel"] for r in outbox(app, recipient_user_id=data["user_zh"])} == {"in_app"}


def test_admin_edits_rules_with_clear_errors(app, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the messages checked are English
    data = school(app)
    _passwords(app)
    login(client, "admin@school.test")
    form = {"days_before": "14, 3", "on_due": "y", "overdue_every_days": "2",
            "escalate_after_days": "5", "quiet_start": "21:30", "quiet_end": "06:30",
            "daily_cap": "3", "digest_time": "07:00", "weekly_time": "08:00",
            "digest_days_ahead": "5"}
    assert client.post("/notifications/admin", data=form).status_code == 302
    with app.app_context():
        row = db.session.get(ReminderSettings, data["org"])
        assert (row.days_before, row.daily_cap, str(row.quiet_start)) == ("14,3", 3, "21:30:00")
    bad = client.post("/notifications/admin", data={**form, "days_before": "7, soon"})
    assert bad.status_code == 200 and "whole numbers from 1 to 365" in bad.get_data(as_text=True)
    night = client.post("/notifications/admin", data={**form, "digest_time": "23:00"})
    assert "inside the quiet hours" in night.get_data(as_text=True)


def test_staff_cannot_reach_admin_pages(app, client):
    school(app)
    _passwords(app)
    login(client, "zhang@school.test")
    assert client.get("/notifications/admin").status_code == 403
    assert client.post("/notifications/admin/outbox/retry-failed").status_code == 403


def test_robot_set_up_test_message_and_bad_urls(app, client, webhook_server):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the messages checked are English
    data = school(app)
    _passwords(app)
    login(client, "admin@school.test")
    bad = client.post("/notifications/admin/channels/new", data={
        "kind": "dingtalk", "name": "教务群", "department_id": "0",
        "webhook_url": "https://evil.example.com/robot/send?access_token=x", "enabled": "y"})
    assert "evil.example.com is not allowed" in bad.get_data(as_text=True)
    response = client.post("/notifications/admin/channels/new", data={
        "kind": "dingtalk", "name": "教务群", "department_id": str(data["dept"]),
        "webhook_url": webhook_server.url("/robot/send?access_token=TOKEN123"),
        "secret": "SECabc", "enabled": "y"})
    assert response.status_code == 302
    with app.app_context():
        channel = db.session.execute(db.select(GroupChannel)).scalar_one()
        channel_id = channel.id
        assert channel.secret == "SECabc"
    page = client.get(f"/notifications/admin/channels/{channel_id}").get_data(as_text=True)
    assert "TOKEN123" not in page and "SECabc" not in page  # never shown back
    result = client.post(f"/notifications/admin/channels/{channel_id}/test",
                         follow_redirects=True).get_data(as_text=True)
    assert "Test message sent" in result
    [req] = webhook_server.requests
    assert req["query"]["access_token"] == ["TOKEN123"] and "sign" in req["query"]
    assert "Plan Tracker" in req["json"]["markdown"]["text"] or \
        "测试" in req["json"]["markdown"]["text"]
    webhook_server.answer = {"errcode": 310000, "errmsg": "sign not match"}
    failed = client.post(f"/notifications/admin/channels/{channel_id}/test",
                         follow_redirects=True).get_data(as_text=True)
    assert "310000 sign not match" in failed and 'id="channel-error"' in failed
    # Editing without a secret keeps the stored one.
    client.post(f"/notifications/admin/channels/{channel_id}", data={
        "kind": "dingtalk", "name": "教务处群", "department_id": str(data["dept"]),
        "webhook_url": webhook_server.url("/robot/send?access_token=TOKEN123"), "enabled": "y"})
    with app.app_context():
        channel = db.session.get(GroupChannel, channel_id)
        assert (channel.name, channel.secret) == ("教务处群", "SECabc")


def test_outbox_shows_failures_and_retries(app, client):
    data = school(app, [("检查", "zh", MONDAY)])
    _passwords(app)
    with app.app_context():
        db.session.add(GroupChannel(organization_id=data["org"], kind=ChannelKind.wecom,
                                    name="坏群", webhook_url="https://example.com/x?key=k"))
        db.session.commit()
        sweep(at(MONDAY, 9), kinds=("daily",))
    login(client, "admin@school.test")
    page = client.get("/notifications/admin/outbox").get_data(as_text=True)
    assert "example.com is not allowed" in page
    with app.app_context():
        failed = db.session.execute(db.select(Notification).where(
            Notification.status == NotificationStatus.failed)).scalar_one()
        failed_id = failed.id
    assert client.post(f"/notifications/admin/outbox/{failed_id}/retry").status_code == 302
    with app.app_context():
        row = db.session.get(Notification, failed_id)
        assert (row.status, row.attempts) == (NotificationStatus.pending, 0)
    for show in ("failed", "pending", "sent", "folded", "cancelled", "all", "nonsense"):
        assert client.get(f"/notifications/admin/outbox?show={show}").status_code == 200
    assert client.get("/notifications/admin/channels").status_code == 200


def test_other_organisations_robot_is_404(app, client, world):
    with app.app_context():
        channel = GroupChannel(organization_id=world.org2, kind=ChannelKind.wecom, name="x",
                               webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
        db.session.add(channel)
        db.session.commit()
        channel_id = channel.id
    login(client, world.emails["admin"])
    assert client.get(f"/notifications/admin/channels/{channel_id}").status_code == 404
    assert client.post(f"/notifications/admin/channels/{channel_id}/test").status_code == 404
    assert client.post(f"/notifications/admin/channels/{channel_id}/delete").status_code == 404


def test_a_refused_robot_url_is_not_shown_back(app, client, webhook_server):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    data = school(app)
    _passwords(app)
    login(client, "admin@school.test")
    form = {"kind": "dingtalk", "name": "教务群", "department_id": str(data["dept"]),
            "secret": "SECabc", "enabled": "y"}
    for url, reason in [
            ("https://evil.example.com/robot/send?access_token=TOKEN123", "is not allowed"),
            (webhook_server.url("/robot/send?access_token=TOKEN123 x"), "control characters")]:
        page = client.post("/notifications/admin/channels/new", data={**form, "webhook_url": url})
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and reason in html
        assert "URL you entered is not shown again: paste it again" in html
        assert "TOKEN123" not in html and "SECabc" not in html
        assert page.headers["Cache-Control"] == "no-store"
    # Any other refusal (here a missing name) does not show it back either.
    page = client.post("/notifications/admin/channels/new", data={
        **form, "name": "", "webhook_url": webhook_server.url("/robot/send?access_token=TOKEN123")})
    assert "TOKEN123" not in page.get_data(as_text=True)
    for path in ("/notifications/admin/channels", "/notifications/admin/channels/new"):
        assert client.get(path).headers["Cache-Control"] == "no-store"
    with app.app_context():
        assert db.session.execute(db.select(GroupChannel)).first() is None
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh"
    page = client.post("/notifications/admin/channels/new", data={
        **form, "webhook_url": webhook_server.url("/robot/send?access_token=TOKEN123 x")})
    html = page.get_data(as_text=True)
    assert "控制字符" in html and "TOKEN123" not in html


def test_test_message_to_a_stored_url_with_a_space_is_an_error_not_a_500(
        app, client, webhook_server, caplog):
    data = school(app)
    _passwords(app)
    with app.app_context():  # stored before the URL check refused spaces
        channel = GroupChannel(organization_id=data["org"], kind=ChannelKind.dingtalk, name="群",
                               webhook_url=webhook_server.url("/robot/send?access_token=TOK EN"),
                               secret="SECabc")
        db.session.add(channel)
        db.session.commit()
        channel_id = channel.id
    login(client, "admin@school.test")
    caplog.set_level("DEBUG")
    response = client.post(f"/notifications/admin/channels/{channel_id}/test")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="channel-error"' in page and "TOK EN" not in page and "TOK%20EN" not in page
    assert webhook_server.requests == []
    assert caplog.records
    assert not [r for r in caplog.records if "TOK" in r.getMessage() or r.exc_info]
