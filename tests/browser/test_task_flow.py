"""Phone-sized: staff updates in place with a photo, then done; the leader accepts."""
from tests.browser.conftest import ui_login
from tests.conftest import PASSWORD
from tests.test_access import png_bytes
from tracker.extensions import db
from tracker.models import Organization


def test_staff_updates_on_a_phone_and_leader_accepts(app, live_server, page_factory, world,
                                                     tmp_path):
    with app.app_context():
        db.session.get(Organization, world.org).requires_acceptance = True
        db.session.commit()
    photo = tmp_path / "现场.png"
    photo.write_bytes(png_bytes())

    staff = page_factory(width=375, height=800)
    ui_login(staff, live_server, world.emails["lead"], PASSWORD)
    card = staff.locator(f"#task-{world.task}")
    card.locator("a.quick-open").click()
    card.locator("select[name=status]").select_option("in_progress")
    card.locator("textarea[name=note]").fill("已召开动员会")
    card.locator("input[type=file]").set_input_files(str(photo))
    url_before = staff.url
    card.locator("button[type=submit]").click()
    staff.wait_for_selector(f"#task-{world.task}.just-saved")
    assert staff.url == url_before  # updated in place, no page load
    card = staff.locator(f"#task-{world.task}")
    assert card.locator(".badge.text-bg-primary").count() == 1  # in progress
    card.locator("a.quick-open").click()
    card.locator("select[name=status]").select_option("done")
    card.locator("textarea[name=note]").fill("检查全部完成")
    card.locator("button[type=submit]").click()
    # "Awaiting acceptance" badge on the re-rendered card.
    staff.wait_for_selector(f"#task-{world.task} .badge.text-bg-info")
    assert staff.js_errors == []

    leader = page_factory()
    ui_login(leader, live_server, world.emails["leader"], PASSWORD)
    leader.goto(f"{live_server}/tasks/?status=done")
    assert "开展教学常规检查" in leader.locator("#task-table").inner_text()
    leader.click("#task-table a:has-text('开展教学常规检查')")
    leader.click("#acceptance-form input[name=accept]")
    leader.wait_for_load_state("networkidle")
    history = leader.locator(".timeline").inner_text()
    assert "已召开动员会" in history and "检查全部完成" in history
    assert leader.locator(".timeline img.evidence-thumb").count() == 1
    assert leader.locator("main .badge.text-bg-success").count() >= 2  # done + accepted
    assert leader.js_errors == []
