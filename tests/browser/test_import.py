"""A leader imports a plan in the browser, corrects one suggestion, and finds the tasks."""
from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD
from tests.test_plan_import import PLAN


def test_import_edit_confirm_and_find_tasks(live_server, page_factory, world):
    page = page_factory()
    ui_login(page, live_server, world.emails["leader"], PASSWORD)
    page.goto(f"{live_server}/plans/import")
    page.fill("textarea[name=text]", PLAN)
    page.click("main input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/plans/import/" in page.url
    row = page.locator("#preview-table tr", has_text="校舍安全排查")
    row.locator("select[name$=department_id]").select_option(label="德育处")
    row.locator("input[name$=-due]").fill("2025-03-15")
    page.click("button[value=confirm]")
    page.wait_for_load_state("networkidle")
    assert "/plans/" in page.url and "/import" not in page.url
    page.goto(f"{live_server}/tasks/?q=校舍安全排查")
    table = page.locator("#task-table").inner_text()
    assert "校舍安全排查" in table and "德育处" in table
    page.goto(f"{live_server}/tasks/")
    assert page.locator("#task-table tbody tr").count() == 4  # 3 imported + the world's task
    assert page.js_errors == []
