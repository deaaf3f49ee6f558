"""Administration: users, departments, terms, staff import — and bad input changes nothing."""
import io

from openpyxl import Workbook
from sqlalchemy import func, select

from tests.conftest import login
from tracker.extensions import db
from tracker.models import Department, Term, User


def _count(app, model, **where):
    with app.app_context():
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return db.session.execute(stmt).scalar()


def _admin(client, world):
    assert login(client, world.emails["admin"]).status_code == 302


def test_create_user_and_log_in_as_them(client, app, world):
    _admin(client, world)
    response = client.post("/admin/users/new", data={
        "name": "新老师", "email": "New@One.edu.cn", "phone": "13800001111", "role": "staff",
        "departments": [str(world.dept)], "password": "initial-pass"})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == "new@one.edu.cn")).scalar_one()
        assert [d.id for d in user.departments] == [world.dept]
        assert user.organization_id == world.org
    client.post("/account/logout")
    assert login(client, "13800001111", "initial-pass").status_code == 302


def test_duplicate_email_is_refused_and_nothing_changes(client, app, world):
    _admin(client, world)
    before = _count(app, User)
    response = client.post("/admin/users/new", data={
        "name": "重复", "email": "LEAD@one.edu.cn", "role": "staff", "password": "initial-pass"})
    assert response.status_code == 200
    assert "lead@one.edu.cn" in response.get_data(as_text=True)
    assert _count(app, User) == before


def test_duplicate_email_in_another_organisation_is_also_refused(client, app, world):
    _admin(client, world)
    response = client.post("/admin/users/new", data={
        "name": "别校", "email": "admin@two.edu.cn", "role": "staff", "password": "initial-pass"})
    assert response.status_code == 200
    assert _count(app, User, email="admin@two.edu.cn") == 1


def test_empty_name_is_refused(client, app, world):
    _admin(client, world)
    before = _count(app, User)
    response = client.post("/admin/users/new", data={
        "name": "   ", "email": "blank@one.edu.cn", "role": "staff", "password": "initial-pass"})
    assert response.status_code == 200
    assert _count(app, User) == before


def test_admin_cannot_deactivate_themself(client, app, world):
    _admin(client, world)
    client.post(f"/admin/users/{world.user_ids['admin']}/active", data={"active": "0"})
    with app.app_context():
        assert db.session.get(User, world.user_ids["admin"]).active


def test_deactivate_keeps_the_user_and_their_history(client, app, world):
    _admin(client, world)
    response = client.post(f"/admin/users/{world.user_ids['lead']}/active", data={"active": "0"})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, world.user_ids["lead"])
        assert user is not None and not user.active


def test_term_that_ends_before_it_starts_is_refused(client, app, world):
    _admin(client, world)
    response = client.post("/admin/terms/new", data={
        "name": "错误学期", "start_date": "2025-02-20", "end_date": "2025-01-10"})
    assert response.status_code == 200
    assert _count(app, Term) == 0
    response = client.post("/admin/terms/new", data={
        "name": "2024—2025学年第二学期", "start_date": "2025-02-17", "mid_date": "2025-04-21",
        "end_date": "2025-07-04"})
    assert response.status_code == 302
    assert _count(app, Term) == 1


def test_impossible_date_is_a_form_error(client, app, world):
    _admin(client, world)
    response = client.post("/admin/terms/new", data={
        "name": "X", "start_date": "2025-02-30", "end_date": "2025-07-04"})
    assert response.status_code == 200
    assert _count(app, Term) == 0


def test_duplicate_department_is_refused(client, app, world):
    _admin(client, world)
    response = client.post("/admin/departments/new", data={"name": "教务处", "head_id": "0"})
    assert response.status_code == 200
    assert _count(app, Department, organization_id=world.org) == 2


def _xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _upload(client, data: bytes, name: str):
    return client.post("/admin/users/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_staff_import_preview_then_confirm(client, app, world):
    _admin(client, world)
    data = _xlsx([["姓名", "邮箱", "手机号", "部门", "角色"],
                  ["孙老师", "sun@one.edu.cn", 13900000001, "教务处、新部门", "教职工"],
                  ["钱主任", "qian@one.edu.cn", None, "德育处", "领导"]])
    response = _upload(client, data, "staff.xlsx")
    assert response.status_code == 302
    preview = client.get("/admin/users/import/preview").get_data(as_text=True)
    assert "孙老师" in preview and "钱主任" in preview
    response = client.post("/admin/users/import/preview", data={"initial_password": "welcome-123"})
    assert response.status_code == 302
    with app.app_context():
        sun = db.session.execute(select(User).where(User.email == "sun@one.edu.cn")).scalar_one()
        assert sorted(d.name for d in sun.departments) == ["教务处", "新部门"]
        assert sun.phone == "13900000001"
    assert _count(app, Department, organization_id=world.org) == 3


def test_staff_import_with_a_bad_row_imports_nothing_and_names_the_line(client, app, world):
    _admin(client, world)
    before = _count(app, User)
    data = _xlsx([["姓名", "邮箱", "部门"],
                  ["好行", "good@one.edu.cn", "教务处"],
                  ["", "bad-email", "教务处"],
                  ["重复", "lead@one.edu.cn", ""]])
    assert _upload(client, data, "staff.xlsx").status_code == 302
    preview = client.get("/admin/users/import/preview").get_data(as_text=True)
    assert "bad-email" in preview and "lead@one.edu.cn" in preview
    response = client.post("/admin/users/import/preview", data={"initial_password": "welcome-123"})
    assert response.status_code == 200
    assert _count(app, User) == before


def test_staff_import_csv_in_gbk(client, app, world):
    _admin(client, world)
    csv_text = "姓名,邮箱,部门\n周老师,zhou@one.edu.cn,教务处\n"
    assert _upload(client, csv_text.encode("gbk"), "staff.csv").status_code == 302
    client.post("/admin/users/import/preview", data={"initial_password": "welcome-123"})
    assert _count(app, User, email="zhou@one.edu.cn") == 1


def test_staff_import_without_required_headers_says_which(client, app, world):
    _admin(client, world)
    response = _upload(client, _xlsx([["名称", "单位"], ["x", "y"]]), "staff.xlsx")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "姓名" in body and "邮箱" in body


def test_staff_import_rejects_a_picture_renamed_xlsx(client, world):
    _admin(client, world)
    response = _upload(client, b"\x89PNG\r\n\x1a\n" + b"0" * 100, "staff.xlsx")
    assert response.status_code == 200
    assert ".xlsx" in response.get_data(as_text=True)


def test_administrative_actions_are_audited(client, app, world):
    from tracker.models import AuditEntry

    _admin(client, world)
    client.post("/admin/users/new", data={"name": "审计", "email": "audit@one.edu.cn",
                                          "role": "staff", "password": "initial-pass"})
    with app.app_context():
        new_id = db.session.execute(select(User.id).where(User.email == "audit@one.edu.cn")) \
            .scalar_one()
    client.post(f"/admin/users/{new_id}", data={"name": "审计", "email": "audit@one.edu.cn",
                                                "role": "leader"})
    client.post(f"/admin/users/{new_id}/active", data={"active": "0"})
    client.post("/admin/organization", data={"name": "第一小学", "timezone": "Asia/Shanghai",
                                             "requires_acceptance": "y",
                                             "stale_after_days": "7"})
    with app.app_context():
        entries = db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        assert [e.action for e in entries] == ["user.create", "user.role", "user.deactivate",
                                                "organization.settings"]
        assert entries[1].details == {"old": "staff", "new": "leader"}
        assert all(e.actor_id == world.user_ids["admin"] for e in entries)
        assert all(e.organization_id == world.org for e in entries)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "user.deactivate" in page
    # Another organisation's admin sees none of it.
    client.post("/account/logout")
    login(client, world.emails["foreign"])
    assert "user.deactivate" not in client.get("/admin/audit").get_data(as_text=True)
