"""The reminder administration in the audit log: robots set up, changed, tested and
removed, and the rules changed — with what changed, and never a robot's credentials."""
from __future__ import annotations

import json

from tests.conftest import login
from tests.reminders.helpers import school
from tests.reminders.test_views import _passwords
from tracker.extensions import db
from tracker.models import AuditEntry, GroupChannel, User

TOKEN = "TOKEN0123456789abcdef"
SECRET = "SECabcdef0123456789"
RULES = {"days_before": "7, 1", "on_due": "y", "overdue_every_days": "3",
         "escalate_after_days": "7", "quiet_start": "22:00", "quiet_end": "07:00",
         "daily_cap": "5", "digest_time": "07:30", "weekly_time": "08:00",
         "digest_days_ahead": "7"}


def _entries(app) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars()
        entries = [{"action": e.action, "target": e.target, "details": e.details,
                    "actor": e.actor_id, "org": e.organization_id} for e in rows]
        db.session.remove()
        return entries


def _admin_id(app) -> int:
    with app.app_context():
        return db.session.execute(db.select(User.id).where(
            User.email == "admin@school.test")).scalar_one()


def _assert_no_credentials(app, *values: str) -> None:
    """Nothing a robot's URL or secret consists of is in any entry."""
    stored = json.dumps(_entries(app), ensure_ascii=False)
    for value in values:
        assert value not in stored


def test_robot_set_up_changed_tested_and_removed_are_audited(app, client, webhook_server):
    data = school(app)
    _passwords(app)
    login(client, "admin@school.test")
    url = webhook_server.url(f"/robot/send?access_token={TOKEN}")
    form = {"kind": "dingtalk", "name": "教务群", "department_id": str(data["dept"]),
            "webhook_url": url, "secret": SECRET, "enabled": "y"}
    assert client.post("/notifications/admin/channels/new", data=form).status_code == 302
    with app.app_context():
        robot = db.session.execute(db.select(GroupChannel.id)).scalar_one()
    # Refused (URL not allowed): rolled back, nothing recorded.
    client.post(f"/notifications/admin/channels/{robot}",
                data={**form, "webhook_url": "https://evil.example.com/robot/send?x=1"})
    # Saved again unchanged, credentials left empty: nothing changed, nothing recorded.
    client.post(f"/notifications/admin/channels/{robot}",
                data={**form, "webhook_url": "", "secret": ""})
    # Renamed, moved to the whole organisation, new secret: those fields, not the values.
    client.post(f"/notifications/admin/channels/{robot}",
                data={**form, "name": "教务处群", "department_id": "0", "webhook_url": "",
                      "secret": "NEWSECRET987"})
    # The same URL entered again is no change of it; a new one is.
    client.post(f"/notifications/admin/channels/{robot}",
                data={**form, "name": "教务处群", "department_id": "0", "secret": "",
                      "webhook_url": url})
    other_url = webhook_server.url("/robot/send?access_token=OTHER42TOKEN")
    client.post(f"/notifications/admin/channels/{robot}",
                data={**form, "name": "教务处群", "department_id": "0", "secret": "",
                      "webhook_url": other_url})
    client.post(f"/notifications/admin/channels/{robot}/test")
    webhook_server.answer = {"errcode": 310000, "errmsg": "sign not match"}
    client.post(f"/notifications/admin/channels/{robot}/test")
    assert client.post(f"/notifications/admin/channels/{robot}/delete").status_code == 302

    entries = _entries(app)
    assert [e["action"] for e in entries] == [
        "robot.create", "robot.update", "robot.update", "robot.test", "robot.test",
        "robot.delete"]
    admin, org = _admin_id(app), data["org"]
    assert all(e["actor"] == admin and e["org"] == org for e in entries)
    created, renamed, new_url, tested, failed, removed = entries
    assert created["target"] == f"robot {robot} 教务群"
    assert created["details"] == {"kind": "dingtalk", "department": "教务处", "enabled": True,
                                  "signed": True}
    assert renamed["target"] == f"robot {robot} 教务处群"
    assert renamed["details"] == {"kind": "dingtalk", "name": ["教务群", "教务处群"],
                                  "department": ["教务处", None], "credentials": ["secret"]}
    assert new_url["details"] == {"kind": "dingtalk", "credentials": ["webhook_url"]}
    assert tested["details"] == {"kind": "dingtalk", "delivered": True}
    # The receiver's error is on the robot's page; the append-only log only says it failed.
    assert failed["details"] == {"kind": "dingtalk", "delivered": False}
    assert removed["target"] == f"robot {robot} 教务处群"
    assert removed["details"] == {"kind": "dingtalk", "department": None}
    _assert_no_credentials(app, TOKEN, "OTHER42TOKEN", SECRET, "NEWSECRET987",
                           "access_token", "127.0.0.1", "sign not match")

    page = client.get("/admin/audit").get_data(as_text=True)
    assert "robot.create" in page and "robot.delete" in page and "教务处群" in page
    assert TOKEN not in page and SECRET not in page


def test_rule_changes_are_audited_with_old_and_new_values(app, client):
    data = school(app)
    _passwords(app)
    login(client, "admin@school.test")
    # The defaults saved as they are: no change, no entry.
    assert client.post("/notifications/admin", data=RULES).status_code == 302
    assert _entries(app) == []
    changed = {**RULES, "days_before": "14, 3", "quiet_start": "21:30", "daily_cap": "2"}
    del changed["on_due"]  # unticked
    assert client.post("/notifications/admin", data=changed).status_code == 302
    # Refused (digest inside the quiet hours): nothing recorded.
    client.post("/notifications/admin", data={**changed, "digest_time": "23:00"})
    [entry] = _entries(app)
    assert entry["action"] == "reminder.settings"
    assert entry["target"] == "实验小学"
    assert (entry["actor"], entry["org"]) == (_admin_id(app), data["org"])
    assert entry["details"] == {"days_before": ["7,1", "14,3"], "on_due": [True, False],
                                "quiet_start": ["22:00", "21:30"], "daily_cap": [5, 2]}
    assert "reminder.settings" in client.get("/admin/audit").get_data(as_text=True)
