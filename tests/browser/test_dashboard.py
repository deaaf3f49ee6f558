"""Real browser: every chart is drawn (under the strict CSP), a bar drills down to its
tasks, the page fits a phone, and a district leader sees the roll-up."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD
from tracker.extensions import db
from tracker.models import NodeKind, OrgKind, Plan, PlanNode, Role, Task, TaskStatus, Term


@pytest.fixture
def school(app, make_org, make_user, make_department):
    with app.app_context():
        district = make_org("城区教体局", kind=OrgKind.district)
        org = make_org("实验小学", parent_id=district.id)
        make_org("第二小学", parent_id=district.id)
        dept = make_department(org, "教务处")
        make_user(org, Role.leader, email="leader@school.cn")
        make_user(district, Role.leader, email="leader@district.cn")
        staff = make_user(org, Role.staff, name="张老师", departments=[dept])
        today = date.today()
        term = Term(organization_id=org.id, name="本学期", start_date=today - timedelta(days=60),
                    end_date=today + timedelta(days=60))
        db.session.add(term)
        db.session.flush()
        plan = Plan(organization_id=org.id, term_id=term.id, title="学校工作计划")
        db.session.add(plan)
        db.session.flush()
        sections = []
        for position, (label, heading) in enumerate([("一、", "教学工作"), ("二、", "德育工作")]):
            section = PlanNode(plan_id=plan.id, position=position * 2, label=label,
                               heading=heading, kind=NodeKind.section)
            db.session.add(section)
            db.session.flush()
            measure = PlanNode(plan_id=plan.id, position=position * 2 + 1, label="1.",
                               heading="措施", kind=NodeKind.measure, parent_id=section.id)
            db.session.add(measure)
            db.session.flush()
            sections.append((section, measure))
        now = datetime.now(timezone.utc)
        for i in range(8):
            section, measure = sections[i % 2]
            # Section 一、: done, in progress, not started, blocked (25%);
            # section 二、: done, in progress, done, not started (50%).
            status = [TaskStatus.done, TaskStatus.done, TaskStatus.in_progress,
                      TaskStatus.in_progress, TaskStatus.not_started, TaskStatus.done,
                      TaskStatus.blocked, TaskStatus.not_started][i]
            db.session.add(Task(
                organization_id=org.id, plan_id=plan.id, plan_node_id=measure.id,
                title=f"{section.label}任务{i}", status=status,
                due_date=today + timedelta(days=(i * 7) - 20), lead_user_id=staff.id,
                lead_department_id=dept.id,
                completed_at=now - timedelta(days=3) if status == TaskStatus.done else None))
        db.session.commit()
        ids = {"plan": plan.id, "sections": [s.id for s, _m in sections]}
        db.session.remove()
        return ids


def charts_drawn(page) -> dict[str, int]:
    page.wait_for_selector("body[data-charts-ready='1']", timeout=15_000)
    return page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('[data-figure]')].map(
            el => [el.dataset.figure, el.querySelectorAll('.main-svg').length]))""")


CSP_PROBE = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""


def test_leader_sees_every_chart_and_a_bar_leads_to_its_tasks(live_server, page_factory,
                                                                school):
    page = page_factory()
    page.add_init_script(CSP_PROBE)
    ui_login(page, live_server, "leader@school.cn", PASSWORD)
    assert page.url.endswith("/dashboard/")
    drawn = charts_drawn(page)
    # plotly.js ran under script-src 'self' (no 'unsafe-eval') without a violation.
    assert "script-src 'self';" in page.evaluate(
        "fetch(location.href).then(r => r.headers.get('content-security-policy'))")
    assert page.evaluate("window.__csp") == []
    # …and the policy is in force: an inline script is refused and reported.
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.__inline = 1';
                             document.head.appendChild(s); }""")
    page.wait_for_function("window.__csp.length > 0")
    assert page.evaluate("window.__inline") is None
    page.js_errors.clear()  # the refusal itself is logged to the console
    assert set(drawn) == {"sections", "departments", "owners", "status", "burnup", "deadlines"}
    assert all(count > 0 for count in drawn.values()), drawn
    # Hover the second section's bar (plotly computes the point on hover), then click.
    bar = page.locator("#chart-sections g.point path").nth(1)
    box = bar.bounding_box()
    x, y = box["x"] + max(box["width"] / 2, 2), box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(r"/tasks/\?"), timeout=10_000)
    assert f"plan={school['plan']}" in page.url
    assert f"section={school['sections'][1]}" in page.url
    rows = page.locator("main table tbody").inner_text()
    assert "二、任务1" in rows and "一、任务0" not in rows
    assert page.js_errors == []


def test_dashboard_on_a_phone(live_server, page_factory, school):
    page = page_factory(width=375, height=740)
    ui_login(page, live_server, "leader@school.cn", PASSWORD)
    drawn = charts_drawn(page)
    assert drawn and all(count > 0 for count in drawn.values()), drawn
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    widths = page.evaluate("""() => [...document.querySelectorAll('[data-figure] .main-svg')]
        .map(svg => svg.getBoundingClientRect().width)""")
    assert max(widths) <= 375
    assert page.js_errors == []


def test_district_leader_sees_the_roll_up_and_opens_a_school(live_server, page_factory, school):
    page = page_factory()
    ui_login(page, live_server, "leader@district.cn", PASSWORD)
    assert page.url.endswith("/dashboard/")
    drawn = charts_drawn(page)
    assert {"schools", "trends", "burnup"} <= set(drawn)
    assert all(count > 0 for count in drawn.values()), drawn
    page.get_by_role("link", name="实验小学").first.click()
    page.wait_for_load_state("networkidle")
    assert re.search(r"/dashboard/org/\d+$", page.url)
    drawn = charts_drawn(page)
    assert "sections" in drawn and all(count > 0 for count in drawn.values())
    assert page.js_errors == []
