"""The personal iCalendar feed: secret URL, right dates in the school's zone, revocable."""
from __future__ import annotations

from datetime import date, datetime, timezone

from icalendar import Calendar

from tests.conftest import login, login_with_csrf
from tracker.extensions import db
from tracker.feeds.ical import Deadline, build_calendar
from tracker.models import NodeKind, Organization, Plan, PlanNode, TaskStatus, User


def test_build_calendar_is_pure_and_parses():
    moment = datetime(2025, 3, 1, 16, 30, tzinfo=timezone.utc)
    data = build_calendar("张老师 · 截止日期", "Asia/Shanghai", [
        Deadline(uid="task-1@x", title="开好毕业班任课教师会议", due=date(2025, 3, 31),
                 url="https://tracker.example/tasks/1", description="一、 › （一）",
                 sequence=3, last_modified=moment)], moment)
    calendar = Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == date(2025, 3, 31)
    assert event.decoded("dtend") == date(2025, 4, 1)
    assert str(event["summary"]) == "开好毕业班任课教师会议"
    assert str(calendar["x-wr-timezone"]) == "Asia/Shanghai"


def _feed_world(app, world, make_task, tz="Asia/Shanghai"):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        org.timezone = tz
        lead = db.session.get(User, world.user_ids["lead"])
        lead.calendar_token = "secret-token-for-lead-0123456789abcdef"
        plan = Plan(organization_id=org.id, title="计划")
        db.session.add(plan)
        db.session.flush()
        section = PlanNode(plan_id=plan.id, position=1, label="一、", heading="教学工作",
                           kind=NodeKind.section)
        db.session.add(section)
        db.session.flush()
        measure = PlanNode(plan_id=plan.id, parent_id=section.id, position=2, label="1.",
                           text="开好毕业班会议", kind=NodeKind.measure)
        db.session.add(measure)
        db.session.flush()
        open_task = make_task(org, "开好毕业班会议", lead_user=lead, due=date(2025, 3, 31),
                              plan_id=plan.id, plan_node_id=measure.id)
        make_task(org, "已完成的任务", lead_user=lead, due=date(2025, 3, 1),
                  status=TaskStatus.done)
        make_task(org, "别人的任务", due=date(2025, 3, 2))
        other = db.session.get(User, world.user_ids["other"])
        supported = make_task(org, "配合的任务", lead_user=other, due=date(2025, 4, 15),
                              supporting_users=[lead])
        db.session.commit()
        ids = (open_task.id, supported.id)
        db.session.remove()
        return ids


def test_feed_lists_my_open_deadlines_as_all_day_events(app, client, world, make_task):
    open_id, supported_id = _feed_world(app, world, make_task, tz="America/Los_Angeles")
    response = client.get("/feeds/calendar/secret-token-for-lead-0123456789abcdef.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = {str(e["summary"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"开好毕业班会议", "配合的任务", "开展教学常规检查"}
    event = events["开好毕业班会议"]
    assert event.decoded("dtstart") == date(2025, 3, 31)  # the school's date, not shifted
    assert event.decoded("dtend") == date(2025, 4, 1)
    assert str(event["uid"]) == f"task-{open_id}@plan-tracker.org-{world.org}"
    assert str(event["url"]).endswith(f"/tasks/{open_id}")
    assert "一、教学工作" in str(event["description"])
    assert str(calendar["x-wr-timezone"]) == "America/Los_Angeles"
    # The UID is stable from one fetch to the next.
    again = Calendar.from_ical(client.get(
        "/feeds/calendar/secret-token-for-lead-0123456789abcdef.ics").data)
    assert {str(e["uid"]) for e in again.walk("VEVENT")} == {
        str(e["uid"]) for e in events.values()}


def test_unknown_revoked_or_deactivated_feeds_are_404(app, client, world, make_task):
    _feed_world(app, world, make_task)
    assert client.get("/feeds/calendar/not-a-token.ics").status_code == 404
    assert client.get("/feeds/calendar/" + "x" * 200 + ".ics").status_code == 404
    with app.app_context():
        db.session.get(User, world.user_ids["lead"]).active = False
        db.session.commit()
    assert client.get(
        "/feeds/calendar/secret-token-for-lead-0123456789abcdef.ics").status_code == 404


def test_profile_creates_replaces_and_turns_off_the_calendar_link(app, client, world):
    login(client, world.emails["lead"])
    assert client.post("/account/calendar").status_code == 302
    page = client.get("/account/").get_data(as_text=True)
    with app.app_context():
        first = db.session.get(User, world.user_ids["lead"]).calendar_token
    assert first and f"/feeds/calendar/{first}.ics" in page
    assert client.get(f"/feeds/calendar/{first}.ics").status_code == 200
    client.post("/account/calendar")
    with app.app_context():
        second = db.session.get(User, world.user_ids["lead"]).calendar_token
    assert second != first
    assert client.get(f"/feeds/calendar/{first}.ics").status_code == 404
    assert client.get(f"/feeds/calendar/{second}.ics").status_code == 200
    client.post("/account/calendar/off")
    assert client.get(f"/feeds/calendar/{second}.ics").status_code == 404


def test_calendar_buttons_need_csrf(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    login_with_csrf(client, world.emails["lead"])
    assert client.post("/account/calendar").status_code == 400
    with app.app_context():
        assert db.session.get(User, world.user_ids["lead"]).calendar_token is None
