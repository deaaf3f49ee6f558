"""Dashboards and GET /api/v1/stats: access, agreement, drill-downs, query counts."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from html import unescape

import pytest
from sqlalchemy import text

from tests.conftest import login, recorded_statements
from tracker.extensions import db
from tracker.models import (
    NodeKind,
    Organization,
    OrgKind,
    Plan,
    PlanNode,
    Role,
    Task,
    TaskStatus,
    Term,
)


def figures_of(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="dashboard-figures">(.*?)</script>',
                      html, re.S)
    assert block, "the page carries its figures as a JSON block"
    return json.loads(block.group(1))


def tile(html: str, key: str) -> str:
    """The value of the headline tile ``key`` (completion, overdue, …)."""
    match = re.search(r'data-stat="' + key + r'">([^<]*)</div>', html)
    assert match, f"no tile {key!r}"
    return match.group(1).strip()


# ---------------------------------------------------------------------------- a school


@pytest.fixture
def school(app, make_org, make_user, make_department):
    """A school with a term, a two-section plan and a few tasks; a district above it with
    a leader; ids only."""
    with app.app_context():
        district = make_org("城区教体局", kind=OrgKind.district)
        org = make_org("实验小学", parent_id=district.id)
        sibling = make_org("第二小学", parent_id=district.id)
        dept = make_department(org, "教务处")
        make_user(org, Role.leader, email="leader@school.cn")
        staff = make_user(org, Role.staff, email="staff@school.cn", name="张老师",
                          departments=[dept])
        make_user(district, Role.leader, email="leader@district.cn")
        make_user(district, Role.staff, email="staff@district.cn")
        make_user(sibling, Role.leader, email="leader@sibling.cn")
        today = date.today()
        term = Term(organization_id=org.id, name="本学期", start_date=today - timedelta(days=60),
                    end_date=today + timedelta(days=60))
        db.session.add(term)
        db.session.flush()
        plan = Plan(organization_id=org.id, term_id=term.id, title="学校工作计划")
        db.session.add(plan)
        db.session.flush()
        nodes = {}
        for position, (key, label, heading, parent) in enumerate([
                ("s1", "一、", "教学工作", None), ("m1", "1.", "常规", "s1"),
                ("s2", "二、", "德育工作", None), ("m2", "1.", "班会", "s2")]):
            node = PlanNode(plan_id=plan.id, position=position, label=label, heading=heading,
                            kind=NodeKind.section if key.startswith("s") else NodeKind.measure,
                            parent_id=nodes[parent].id if parent else None)
            db.session.add(node)
            db.session.flush()
            nodes[key] = node
        now = datetime.now(timezone.utc)
        specs = [("m1", TaskStatus.done, -10), ("m1", TaskStatus.in_progress, -3),
                 ("m1", TaskStatus.not_started, 20), ("m2", TaskStatus.blocked, 5),
                 ("m2", TaskStatus.cancelled, -5)]
        for i, (node, status, due_in) in enumerate(specs):
            db.session.add(Task(
                organization_id=org.id, plan_id=plan.id, plan_node_id=nodes[node].id,
                title=f"措施{i}", status=status, due_date=today + timedelta(days=due_in),
                lead_user_id=staff.id, lead_department_id=dept.id,
                completed_at=now - timedelta(days=12) if status == TaskStatus.done else None))
        db.session.commit()
        ids = {"org": org.id, "district": district.id, "sibling": sibling.id,
               "plan": plan.id, "term": term.id, "dept": dept.id, "staff": staff.id,
               "s1": nodes["s1"].id, "s2": nodes["s2"].id}
        db.session.remove()
        return ids


def test_leader_sees_the_school_dashboard_with_every_chart(client, school):
    login(client, "leader@school.cn")
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    figures = figures_of(html)
    assert set(figures) == {"sections", "departments", "owners", "status", "burnup",
                            "deadlines"}
    for name in figures:
        assert f'data-figure="{name}"' in html
    # Sections in plan order, labelled as printed, drilling down to the section's tasks.
    bars = figures["sections"]["data"][0]
    assert figures["sections"]["layout"]["yaxis"]["ticktext"] == ["一、教学工作", "二、德育工作"]
    assert bars["customdata"] == [
        f"/tasks/?plan={school['plan']}&section={school['s1']}",
        f"/tasks/?plan={school['plan']}&section={school['s2']}"]
    assert tile(html, "completion") == "25%"       # 1 of 4 (the cancelled one left out)
    assert tile(html, "overdue") == "1"


def test_no_inline_script_and_a_strict_content_security_policy(client, school):
    login(client, "leader@school.cn")
    response = client.get("/dashboard/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    html = response.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert html.count("plotly.min.js") == 1


def test_plotly_js_is_served_from_the_package_with_long_caching(client):
    import plotly

    response = client.get(f"/dashboard/plotly.min.js?v={plotly.__version__}")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert b"plotly.js v" in response.data[:200]


def test_staff_get_403_and_other_schools_404(client, school):
    login(client, "staff@school.cn")
    assert client.get("/dashboard/").status_code == 403
    assert client.get(f"/dashboard/org/{school['org']}").status_code == 403
    client.post("/account/logout")
    login(client, "leader@sibling.cn")
    assert client.get(f"/dashboard/org/{school['org']}").status_code == 404
    assert client.get(f"/dashboard/org/{school['district']}").status_code == 404


def test_district_leader_sees_the_roll_up_and_a_school_read_only(client, school):
    login(client, "leader@district.cn")
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    figures = figures_of(html)
    assert {"schools", "trends", "burnup"} <= set(figures)
    assert f"/dashboard/org/{school['org']}" in figures["schools"]["data"][0]["customdata"]
    assert "实验小学" in html and "第二小学" in html
    school_page = client.get(f"/dashboard/org/{school['org']}")
    assert school_page.status_code == 200
    school_html = school_page.get_data(as_text=True)
    # Read-only: the figures are there, without links into the school's task list.
    assert all(url is None for url in figures_of(school_html)["sections"]["data"][0]["customdata"])
    assert not re.search(r'href="/tasks/(\?|\d)', school_html)
    client.post("/account/logout")
    login(client, "staff@district.cn")
    assert client.get("/dashboard/").status_code == 403


def test_filters_and_bad_input(client, school):
    login(client, "leader@school.cn")
    assert client.get(f"/dashboard/?department={school['dept']}").status_code == 200
    assert client.get(f"/dashboard/?plan={school['plan']}&term={school['term']}").status_code == 200
    assert client.get("/dashboard/?plan=abc").status_code == 400
    assert client.get("/dashboard/?plan=999999").status_code == 404
    assert client.get("/dashboard/?term=999999").status_code == 404
    assert client.get("/dashboard/?department=999999").status_code == 404
    for url in ("/dashboard/org/99999999999", "/dashboard/?plan=99999999999",
                "/api/v1/stats?plan=99999999999", "/api/v1/stats?org=99999999999"):
        assert client.get(url).status_code == 404, url


def test_leaders_land_on_the_dashboard(client, school):
    login(client, "leader@school.cn")
    assert client.get("/").location.endswith("/dashboard/")


def test_drill_down_lists_the_tasks_behind_the_bar(client, school):
    login(client, "leader@school.cn")
    figures = figures_of(client.get("/dashboard/").get_data(as_text=True))
    url = figures["sections"]["data"][0]["customdata"][0]
    listing = client.get(url).get_data(as_text=True)
    assert ["措施0", "措施1", "措施2"] == sorted(set(re.findall(r"措施\d", listing)))
    blocked_url = next(u for u in figures["status"]["data"][0]["customdata"]
                       if "status=blocked" in u)
    blocked = client.get(blocked_url).get_data(as_text=True)
    assert sorted(set(re.findall(r"措施\d", blocked))) == ["措施3"]
    # Each block of the deadlines chart lists exactly the tasks it counts.
    checked = 0
    for trace in figures["deadlines"]["data"]:
        for count, url in zip(trace["y"], trace["customdata"], strict=True):
            if url:
                listing = client.get(url).get_data(as_text=True)
                assert len(set(re.findall(r"措施\d", listing))) == count, url
                checked += 1
    assert checked == 2                     # 措施2 (not started) and 措施3 (blocked)


# ---------------------------------------------------------------------------- API


def test_api_stats_needs_a_login_and_answers_json_errors(client, school):
    response = client.get("/api/v1/stats")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == 401
    login(client, "staff@school.cn")
    assert client.get("/api/v1/stats").get_json()["error"]["code"] == 403
    client.post("/account/logout")
    login(client, "leader@sibling.cn")
    assert client.get(f"/api/v1/stats?plan={school['plan']}").status_code == 404
    bad = client.get("/api/v1/stats?plan=x", headers={"Accept-Language": "en"})
    assert bad.status_code == 400 and "whole numbers" in bad.get_json()["error"]["message"]


def test_api_stats_for_a_plan_and_for_a_district(client, school):
    login(client, "leader@school.cn")
    data = client.get(f"/api/v1/stats?plan={school['plan']}").get_json()
    assert data["organization"]["kind"] == "school"
    assert data["totals"]["total"] == 5 and data["totals"]["cancelled"] == 1
    assert data["totals"]["completed"] == 1 and data["totals"]["overdue"] == 1
    assert [s["label"] for s in data["sections"]] == ["一、教学工作", "二、德育工作"]
    client.post("/account/logout")
    login(client, "leader@district.cn")
    district = client.get("/api/v1/stats").get_json()
    assert district["organization"]["kind"] == "district"
    schools = {s["label"]: s for s in district["schools"]}
    assert schools["实验小学"]["total"] == 5 and schools["第二小学"]["total"] == 0
    assert district["totals"]["total"] == 5
    one = client.get(f"/api/v1/stats?org={school['org']}").get_json()
    assert one["totals"] == data["totals"]


# ---------------------------------------------------------------------------- demo data


def test_dashboard_api_and_sql_agree_on_the_demo_school(app, client):
    from tracker.demo import create_demo

    with app.app_context():
        org = create_demo(date.today())
        db.session.commit()
        org_id = org.id
        # Counted tasks by hand-written SQL: tasks without occurrences, of the demo plan.
        sql = db.session.execute(text("""
            SELECT count(*) AS total,
                   sum(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
                   sum(CASE WHEN status = 'done' AND acceptance = 'accepted' THEN 1 ELSE 0 END)
                       AS completed,
                   sum(CASE WHEN status IN ('not_started', 'in_progress', 'blocked')
                            AND due_date < :today THEN 1 ELSE 0 END) AS overdue,
                   sum(CASE WHEN status = 'blocked' THEN 1 ELSE 0 END) AS blocked
            FROM tasks t
            WHERE organization_id = :org
              AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = t.id)"""),
            {"org": org_id, "today": _shanghai_today()}).one()
        db.session.remove()
    login(client, "leader@demo.school", "demo1234")
    api = client.get("/api/v1/stats").get_json()
    totals = api["totals"]
    assert (totals["total"], totals["cancelled"], totals["completed"], totals["overdue"],
            totals["blocked"]) == tuple(sql)
    html = client.get("/dashboard/").get_data(as_text=True)
    rate = totals["completion_rate"]
    assert tile(html, "completion") == f"{rate * 100:.0f}%"
    assert tile(html, "overdue") == str(totals["overdue"])
    figures = figures_of(html)
    # The section bars carry the same completed/active figures as the API's sections.
    texts = figures["sections"]["data"][0]["text"]
    assert [re.search(r"\((\d+/\d+)\)", t).group(1) for t in texts] == [
        f"{s['completed']}/{s['active']}" for s in api["sections"]]
    assert sum(s["total"] for s in api["sections"]) == totals["total"]
    departments = figures["departments"]["data"][0]["text"]
    assert [re.search(r"\((\d+/\d+)\)", t).group(1) for t in departments] == [
        f"{d['completed']}/{d['active']}" for d in api["departments"] if d["id"] is not None]
    owners = figures["owners"]["data"][0]
    assert len(owners["y"]) == min(10, len(api["owners"]))
    assert unescape(html).count(api["organization"]["name"]) >= 1


def _shanghai_today() -> date:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


# ---------------------------------------------------------------------------- query counts


def _grow(app, org_id: int, plan_id: int, node_id: int, n: int, users: list[int],
          depts: list[int]) -> None:
    """Add n tasks with bulk inserts (spread over owners, departments, statuses, dates)."""
    today = date.today()
    statuses = list(TaskStatus)
    now = datetime.now(timezone.utc)
    rows = [{"organization_id": org_id, "plan_id": plan_id, "plan_node_id": node_id,
             "title": f"批量任务{i}", "status": statuses[i % len(statuses)],
             "due_date": today + timedelta(days=(i % 90) - 45),
             "lead_user_id": users[i % len(users)], "lead_department_id": depts[i % len(depts)],
             "completed_at": now - timedelta(days=i % 30) if i % 5 == 2 else None,
             "last_activity_at": now - timedelta(days=i % 40), "version": 1, "progress": 0,
             "acceptance": "not_required", "description": ""}
            for i in range(n)]
    with app.app_context():
        db.session.execute(Task.__table__.insert(), rows)
        db.session.commit()
        db.session.remove()


def _count_queries(app, client, url: str) -> int:
    with recorded_statements(app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


@pytest.mark.parametrize("url", ["/dashboard/", "/api/v1/stats"])
def test_query_count_does_not_grow_with_tasks(app, client, school, make_user, url):
    with app.app_context():
        org = db.session.get(Organization, school["org"])
        users = [school["staff"]] + [make_user(org).id for _ in range(14)]
        db.session.commit()
        db.session.remove()
    login(client, "leader@school.cn")
    client.get(url)                                   # warm the session's caches
    small = _count_queries(app, client, url)
    _grow(app, school["org"], school["plan"], school["s1"] + 1, 1000, users, [school["dept"]])
    large = _count_queries(app, client, url)
    assert small == large
    assert small <= 15, statements_of(app, client, url)


def test_district_query_count_does_not_grow_with_schools_or_tasks(app, client, school,
                                                                   make_org, make_user):
    login(client, "leader@district.cn")
    small = _count_queries(app, client, "/dashboard/")
    with app.app_context():
        district = db.session.get(Organization, school["district"])
        for i in range(20):
            make_org(f"新学校{i}", parent_id=district.id)
        db.session.commit()
        db.session.remove()
    _grow(app, school["org"], school["plan"], school["s1"] + 1, 1000, [school["staff"]],
          [school["dept"]])
    large = _count_queries(app, client, "/dashboard/")
    assert small == large
    assert small <= 12


def statements_of(app, client, url):
    with recorded_statements(app) as statements:
        client.get(url)
    return "\n".join(s[:90] for s in statements)
