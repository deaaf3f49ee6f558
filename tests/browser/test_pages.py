"""Real browser: each role logs in, sees its pages in Chinese and English, on a phone too."""
import pytest

from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD


@pytest.mark.parametrize("role,home", [("admin", "/dashboard/"), ("leader", "/dashboard/"),
                                       ("lead", "/tasks/mine")])
def test_role_logs_in_and_lands_home_in_chinese(live_server, page_factory, world, role, home):
    page = page_factory()
    ui_login(page, live_server, world.emails[role], PASSWORD)
    assert page.url.endswith(home)
    assert page.locator("nav").inner_text().count("我的任务") == 1
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state("networkidle")
    assert "My tasks" in page.locator("nav").inner_text()
    assert page.js_errors == []


def test_staff_on_a_phone_sees_their_task_and_opens_it(live_server, page_factory, world):
    page = page_factory(width=375, height=740)
    ui_login(page, live_server, world.emails["lead"], PASSWORD)
    assert page.locator(".task-card").count() == 1
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.locator(".task-card a").first.click()
    page.wait_for_load_state("networkidle")
    assert "开展教学常规检查" in page.locator("h1").inner_text()
    page.select_option("select[name=status]", "in_progress")
    page.fill("textarea[name=note]", "已布置各教研组自查")
    page.click("#update-form input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "已布置各教研组自查" in page.locator(".timeline").inner_text()
    assert page.js_errors == []


def test_wrong_password_shows_a_message(live_server, page_factory, world):
    page = page_factory()
    ui_login(page, live_server, world.emails["lead"], "not-the-password")
    assert "/account/login" in page.url
    assert page.locator(".alert-danger").count() == 1
