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


def test_conflict_then_fold_and_reopen_keeps_the_note_and_saves(app, live_server, page_factory,
                                                                world):
    """Someone else saves first: the form says so and keeps the note; folded away and
    opened again it carries the new version, so the second save goes through."""
    from tracker.models import Task, TaskStatus, User
    from tracker.tasks import services

    staff = page_factory(width=375, height=800)
    ui_login(staff, live_server, world.emails["lead"], PASSWORD)
    card = staff.locator(f"#task-{world.task}")
    card.locator("a.quick-open").click()
    card.locator("textarea[name=note]").fill("我的进展")
    with app.app_context():  # the leader updates the same task meanwhile
        task = db.session.get(Task, world.task)
        services.update_progress(task, db.session.get(User, world.user_ids["leader"]),
                                 expected_version=task.version, status=TaskStatus.in_progress,
                                 progress=30, actual_value=None, note="领导更新",
                                 uploads=[], upload_folder=None, max_upload_bytes=0)
        db.session.commit()
    card.locator("button[type=submit]").click()
    staff.wait_for_selector(f"#task-{world.task} .quick-message.text-danger")
    card.locator(".quick-close").click()
    assert card.locator("form.quick-update").is_hidden()
    card.locator("a.quick-open").click()
    assert card.locator("textarea[name=note]").input_value() == "我的进展"
    card.locator("button[type=submit]").click()
    staff.wait_for_selector(f"#task-{world.task}.just-saved")
    # The browser logs the 409 answer itself; nothing else may go wrong.
    assert [e for e in staff.js_errors if "409" not in e] == []
