"""The report's HTML in a real browser: every plan section is there, in order."""
from __future__ import annotations

from tests.browser.conftest import ui_login


def test_report_html_shows_every_section(app, live_server, page_factory):
    from datetime import date

    from sqlalchemy import select

    from tests.reports.conftest import section_titles
    from tracker.demo import create_demo
    from tracker.extensions import db
    from tracker.models import Plan

    with app.app_context():
        org = create_demo(date(2025, 1, 17))
        db.session.commit()
        plan_id = db.session.execute(select(Plan.id).where(Plan.organization_id == org.id)) \
            .scalar_one()
        sections = section_titles(plan_id)
        db.session.remove()
    page = page_factory()
    ui_login(page, live_server, "leader@demo.school", "demo1234")
    page.goto(f"{live_server}/plans/{plan_id}")
    page.click(f"a[href='/reports/plan/{plan_id}']")
    page.uncheck("#format-pdf")
    page.uncheck("#format-docx")
    page.click("form.card button[type=submit]")
    page.wait_for_selector("#report-status[data-status=done]", timeout=60_000)
    assert page.inner_text("#report-progress") == "100%"
    page.click("#report-files a.btn-primary")
    page.wait_for_load_state()
    found = page.locator("h1.plan-section, h2.plan-section, h3.plan-section, h4.plan-section") \
        .all_inner_texts()
    assert found == sections
    assert "工作计划执行、完成情况" in page.title()
    assert not page.js_errors
