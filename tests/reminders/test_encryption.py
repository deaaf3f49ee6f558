"""Robot credentials encrypted at rest: ciphertext in the table, legacy plain text still
works, an unreadable value (key changed) is a clear state and a visible failure."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import text

from tests.conftest import login
from tests.reminders.helpers import MONDAY, at, outbox, school
from tests.reminders.test_views import _passwords
from tracker.crypto import Keyring, is_unreadable
from tracker.extensions import db
from tracker.models import AuditEntry, ChannelKind, GroupChannel
from tracker.reminders.jobs import sweep
from tracker.reminders.services import UNREADABLE_CREDENTIALS

TOKEN = "TOKEN0123456789abcdef"
SECRET = "SECabcdef0123456789"


def _raw(app, channel_id: int) -> tuple[str, str | None]:
    """The columns as stored, read with plain SQL (no decryption)."""
    with app.app_context():
        row = db.session.execute(text("SELECT webhook_url, secret FROM group_channels "
                                      "WHERE id = :id"), {"id": channel_id}).one()
        db.session.remove()
        return row[0], row[1]


def _store_raw(app, channel_id: int, url: str, secret: str | None) -> None:
    with app.app_context():
        db.session.execute(text("UPDATE group_channels SET webhook_url = :url, secret = :secret "
                                "WHERE id = :id"), {"url": url, "secret": secret, "id": channel_id})
        db.session.commit()
        db.session.remove()


def _robot(app, org_id: int, kind: ChannelKind, url: str, secret: str | None = None,
           name: str = "教务群") -> int:
    with app.app_context():
        channel = GroupChannel(organization_id=org_id, kind=kind, name=name, webhook_url=url,
                               secret=secret)
        db.session.add(channel)
        db.session.commit()
        channel_id = channel.id
        db.session.remove()
        return channel_id


def _assert_dingtalk_signed(request: dict, secret: str) -> None:
    timestamp = request["query"]["timestamp"][0]
    expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert request["query"]["sign"] == [expected]


def test_credentials_saved_from_the_admin_page_are_ciphertext_in_the_table(
        app, client, webhook_server):
    data = school(app)
    _passwords(app)
    login(client, "admin@school.test")
    url = webhook_server.url(f"/robot/send?access_token={TOKEN}")
    response = client.post("/notifications/admin/channels/new", data={
        "kind": "dingtalk", "name": "教务群", "department_id": str(data["dept"]),
        "webhook_url": url, "secret": SECRET, "enabled": "y"})
    assert response.status_code == 302
    with app.app_context():
        channel = db.session.execute(db.select(GroupChannel)).scalar_one()
        channel_id = channel.id
        assert (channel.webhook_url, channel.secret) == (url, SECRET)
        db.session.remove()
    stored_url, stored_secret = _raw(app, channel_id)
    for stored in (stored_url, stored_secret):
        assert stored.startswith("fernet:")
        assert TOKEN not in stored and SECRET not in stored and "access_token" not in stored
        assert "127.0.0.1" not in stored
    # Sent with the decrypted URL and secret: the receiver verifies the DingTalk signature.
    result = client.post(f"/notifications/admin/channels/{channel_id}/test",
                         follow_redirects=True)
    assert result.status_code == 200
    [req] = webhook_server.requests
    assert req["query"]["access_token"] == [TOKEN]
    _assert_dingtalk_signed(req, SECRET)


def test_legacy_plain_text_rows_are_sent_and_encrypted_when_saved(app, client, runner,
                                                                  webhook_server):
    data = school(app, [("检查", "zh", MONDAY)])
    url = webhook_server.url(f"/robot/send?access_token={TOKEN}")
    feishu_url = webhook_server.url("/open-apis/bot/v2/hook/HOOK42")
    ding = _robot(app, data["org"], ChannelKind.dingtalk, url, SECRET)
    feishu = _robot(app, data["org"], ChannelKind.feishu, feishu_url, SECRET, name="飞书群")
    # As the previous version wrote them: plain text.
    _store_raw(app, ding, url, SECRET)
    _store_raw(app, feishu, feishu_url, SECRET)
    assert _raw(app, ding) == (url, SECRET)
    with app.app_context():
        sweep(at(MONDAY, 8), kinds=("daily",))
    assert [r["status"] for r in outbox(app, kind="group_digest")] == ["sent", "sent"]
    by_path = {r["path"]: r for r in webhook_server.requests}
    _assert_dingtalk_signed(by_path["/robot/send"], SECRET)
    body = by_path["/open-apis/bot/v2/hook/HOOK42"]["json"]
    key = f"{body['timestamp']}\n{SECRET}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()

    # Saved from the admin page without re-entering anything: encrypted now.
    _passwords(app)
    login(client, "admin@school.test")
    response = client.post(f"/notifications/admin/channels/{ding}", data={
        "kind": "dingtalk", "name": "教务处群", "department_id": "0", "enabled": "y"})
    assert response.status_code == 302
    stored_url, stored_secret = _raw(app, ding)
    assert stored_url.startswith("fernet:") and stored_secret.startswith("fernet:")
    assert TOKEN not in stored_url and SECRET not in stored_secret
    with app.app_context():
        channel = db.session.get(GroupChannel, ding)
        assert (channel.name, channel.webhook_url, channel.secret) == ("教务处群", url, SECRET)

    # The rest, all at once.
    assert _raw(app, feishu) == (feishu_url, SECRET)
    result = runner.invoke(args=["tracker", "encrypt-secrets"])
    assert result.exit_code == 0, result.output
    assert "robots: 2" in result.output and "of which 1 were in plain text" in result.output
    assert all(v.startswith("fernet:") for v in _raw(app, feishu))
    again = runner.invoke(args=["tracker", "encrypt-secrets"])
    assert "of which 0 were in plain text" in again.output and "unreadable: 0" in again.output


def test_unreadable_credentials_fail_visibly_and_the_sweep_carries_on(app, client, runner,
                                                                      webhook_server):
    data = school(app, [("检查", "zh", MONDAY)])
    good = _robot(app, data["org"], ChannelKind.wecom,
                  webhook_server.url("/cgi-bin/webhook/send?key=k"), name="好群")
    bad = _robot(app, data["org"], ChannelKind.dingtalk,
                 webhook_server.url(f"/robot/send?access_token={TOKEN}"), SECRET, name="坏群")
    # Encrypted with a key this installation does not have (another server, a lost key).
    other = Keyring([Fernet.generate_key()])
    _store_raw(app, bad, other.encrypt(webhook_server.url(f"/robot/send?access_token={TOKEN}")),
               other.encrypt(SECRET))
    with app.app_context():
        channel = db.session.get(GroupChannel, bad)
        assert channel.credentials_unreadable
        assert is_unreadable(channel.webhook_url) and is_unreadable(channel.secret)
        assert "TOKEN" not in repr(channel.webhook_url)
        outcomes = sweep(at(MONDAY, 8), kinds=("daily",)).outcomes
        db.session.remove()
    robots = {o.to: o for o in outcomes if o.channel in ("wecom", "dingtalk")}
    assert robots["wecom:好群"].status == "sent"
    assert (robots["dingtalk:坏群"].status, robots["dingtalk:坏群"].error) == \
        ("failed", UNREADABLE_CREDENTIALS)
    assert [r["path"] for r in webhook_server.requests] == ["/cgi-bin/webhook/send"]
    with app.app_context():
        assert db.session.get(GroupChannel, bad).last_error == UNREADABLE_CREDENTIALS
        assert db.session.get(GroupChannel, good).last_ok_at is not None
        db.session.remove()

    _passwords(app)
    login(client, "admin@school.test")
    listing = client.get("/notifications/admin/channels").get_data(as_text=True)
    assert "凭据无法读取" in listing  # the default language is Chinese
    page = client.get(f"/notifications/admin/channels/{bad}")
    assert page.status_code == 200 and 'id="channel-unreadable"' in page.get_data(as_text=True)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    listing = client.get("/notifications/admin/channels").get_data(as_text=True)
    assert "credentials unreadable — enter them again" in listing
    tested = client.post(f"/notifications/admin/channels/{bad}/test",
                         follow_redirects=True).get_data(as_text=True)
    assert "cannot be decrypted" in tested
    assert len(webhook_server.requests) == 1  # nothing was sent to the unreadable robot
    assert f"robot {bad} (坏群" in runner.invoke(args=["tracker", "encrypt-secrets"]).output

    # Saving without re-entering them is refused with the reason; re-entering fixes it.
    form = {"kind": "dingtalk", "name": "坏群", "department_id": "0", "enabled": "y"}
    refused = client.post(f"/notifications/admin/channels/{bad}", data=form)
    assert refused.status_code == 200
    assert "webhook URL cannot be decrypted" in refused.get_data(as_text=True)
    url = webhook_server.url(f"/robot/send?access_token={TOKEN}")
    refused = client.post(f"/notifications/admin/channels/{bad}", data={**form, "webhook_url": url})
    assert "signing secret cannot be decrypted" in refused.get_data(as_text=True)
    saved = client.post(f"/notifications/admin/channels/{bad}",
                        data={**form, "webhook_url": url, "secret": SECRET})
    assert saved.status_code == 302
    with app.app_context():
        channel = db.session.get(GroupChannel, bad)
        assert not channel.credentials_unreadable and channel.secret == SECRET
    page = client.get(f"/notifications/admin/channels/{bad}").get_data(as_text=True)
    assert 'id="channel-unreadable"' not in page


def test_moving_to_a_dedicated_key_and_rotating_it(app, runner):
    data = school(app)
    url = "https://oapi.dingtalk.com/robot/send?access_token=" + TOKEN
    robot = _robot(app, data["org"], ChannelKind.dingtalk, url, SECRET)
    by_secret_key = _raw(app, robot)[0]  # the test config sets no DATA_ENCRYPTION_KEY
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    def restart_with(key: str, old: str = "") -> None:
        app.extensions["keyring"] = Keyring.from_settings(key, old, app.config["SECRET_KEY"])

    restart_with(first)  # SECRET_KEY's key still decrypts what it encrypted
    with app.app_context():
        assert db.session.get(GroupChannel, robot).webhook_url == url
        db.session.remove()
    assert runner.invoke(args=["tracker", "encrypt-secrets"]).exit_code == 0
    stored = _raw(app, robot)[0]
    assert stored != by_secret_key
    assert Keyring([first.encode()]).decrypt(stored) == url

    restart_with(second, old=first)
    assert "unreadable: 0" in runner.invoke(args=["tracker", "encrypt-secrets"]).output
    restart_with(second)  # the old key dropped after re-encrypting
    with app.app_context():
        channel = db.session.get(GroupChannel, robot)
        assert (channel.webhook_url, channel.secret) == (url, SECRET)
        db.session.remove()
    restart_with(first)  # a key that never had it: unreadable, not a crash
    with app.app_context():
        assert db.session.get(GroupChannel, robot).credentials_unreadable


def test_an_unreadable_robot_is_disabled_and_enabled_without_its_credentials(
        app, client, webhook_server):
    """Switching a robot off or on leaves its stored credentials alone; switched on again
    it still sends nothing until they are entered again."""
    data = school(app, [("检查", "zh", MONDAY)])
    good = _robot(app, data["org"], ChannelKind.wecom,
                  webhook_server.url("/cgi-bin/webhook/send?key=k"), name="好群")
    url = webhook_server.url(f"/robot/send?access_token={TOKEN}")
    bad = _robot(app, data["org"], ChannelKind.dingtalk, url, SECRET, name="坏群")
    other = Keyring([Fernet.generate_key()])
    _store_raw(app, bad, other.encrypt(url), other.encrypt(SECRET))
    stored = _raw(app, bad)
    _passwords(app)
    login(client, "admin@school.test")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    toggle = f"/notifications/admin/channels/{bad}/enabled"
    page = client.get(f"/notifications/admin/channels/{bad}").get_data(as_text=True)
    assert f'action="{toggle}"' in page and 'name="enabled" value="0"' in page

    disabled = client.post(toggle, data={"enabled": "0"}, follow_redirects=True)
    assert disabled.status_code == 200
    assert "Robot disabled: nothing is sent to it." in disabled.get_data(as_text=True)
    with app.app_context():
        channel = db.session.get(GroupChannel, bad)
        assert not channel.enabled and channel.credentials_unreadable
        db.session.remove()
    assert _raw(app, bad) == stored  # not written again, not replaced
    listing = client.get("/notifications/admin/channels").get_data(as_text=True)
    assert "credentials unreadable — enter them again" in listing and ">disabled<" in listing
    page = client.get(f"/notifications/admin/channels/{bad}").get_data(as_text=True)
    assert 'name="enabled" value="1"' in page
    # The sweep skips the disabled robot: no digest for it, so no failure either.
    with app.app_context():
        sweep(at(MONDAY, 8), kinds=("daily",))
    assert [r["channel"] for r in outbox(app, kind="group_digest")] == ["wecom"]

    enabled = client.post(toggle, data={"enabled": "1"}, follow_redirects=True)
    assert "nothing is sent to it until you enter them again" in enabled.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(GroupChannel, bad).enabled
        db.session.remove()
    assert _raw(app, bad) == stored
    tuesday = MONDAY + timedelta(days=1)
    with app.app_context():
        outcomes = sweep(at(tuesday, 8), kinds=("daily",)).outcomes
    robots = {o.to: o for o in outcomes if o.channel in ("wecom", "dingtalk")}
    assert (robots["dingtalk:坏群"].status, robots["dingtalk:坏群"].error) == \
        ("failed", UNREADABLE_CREDENTIALS)
    assert "/robot/send" not in [r["path"] for r in webhook_server.requests]

    # Entered again, it sends.
    saved = client.post(f"/notifications/admin/channels/{bad}", data={
        "kind": "dingtalk", "name": "坏群", "department_id": "0", "enabled": "y",
        "webhook_url": url, "secret": SECRET})
    assert saved.status_code == 302
    with app.app_context():
        sweep(at(tuesday + timedelta(days=1), 8), kinds=("daily",))
    _assert_dingtalk_signed([r for r in webhook_server.requests
                             if r["path"] == "/robot/send"][0], SECRET)
    with app.app_context():
        actions = db.session.execute(db.select(AuditEntry.action, AuditEntry.target)
                                     .order_by(AuditEntry.id)).all()
        assert [tuple(a) for a in actions] == [("robot.disable", f"robot {bad} 坏群"),
                                               ("robot.enable", f"robot {bad} 坏群"),
                                               ("robot.update", f"robot {bad} 坏群")]
        assert db.session.get(GroupChannel, good).enabled

    client.post("/account/logout")
    login(client, "zhang@school.test")
    assert client.post(toggle, data={"enabled": "0"}).status_code == 403
