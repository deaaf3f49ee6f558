from tests.conftest import PASSWORD, login
from tracker.extensions import db
from tracker.models import User


def test_login_with_email_then_logout(client, world):
    response = login(client, "lead@one.edu.cn")
    assert response.status_code == 302
    assert client.get("/tasks/mine").status_code == 200
    response = client.post("/account/logout")
    assert response.status_code == 302
    assert client.get("/tasks/mine").status_code == 302  # back to the login page


def test_login_email_is_case_insensitive(client, world):
    assert login(client, "  LEAD@One.Edu.Cn ").status_code == 302


def test_login_with_mobile_number(client, app, world):
    with app.app_context():
        user = db.session.get(User, world.user_ids["lead"])
        user.phone = "13912345678"
        db.session.commit()
    assert login(client, "139 1234 5678").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, world):
    response = login(client, "lead@one.edu.cn", "wrong-password", follow=True)
    assert response.status_code == 200
    assert b"Wrong e-mail/mobile number or password" in response.data or \
        "密码错误".encode() in response.data
    assert client.get("/tasks/mine").status_code == 302


def test_unknown_user_is_refused(client, world):
    assert login(client, "nobody@one.edu.cn").status_code == 200


def test_deactivated_user_cannot_log_in_and_is_logged_out(client, app, world):
    assert login(client, "lead@one.edu.cn").status_code == 302
    with app.app_context():
        db.session.get(User, world.user_ids["lead"]).active = False
        db.session.commit()
    assert client.get("/tasks/mine").status_code == 302  # session no longer valid
    assert login(client, "lead@one.edu.cn").status_code == 200


def test_next_parameter_cannot_redirect_off_site(client, world):
    response = client.post("/account/login?next=//evil.example/x",
                           data={"identifier": "lead@one.edu.cn", "password": PASSWORD})
    assert response.headers["Location"].endswith("/")
    assert "evil" not in response.headers["Location"]


def test_change_own_password(client, app, world):
    login(client, "lead@one.edu.cn")
    response = client.post("/account/", data={
        "pw-current": "wrong", "pw-new": "another-pass-2", "pw-confirm": "another-pass-2",
        "pw-submit": "1"})
    assert response.status_code == 200  # form shown again with the error
    response = client.post("/account/", data={
        "pw-current": PASSWORD, "pw-new": "another-pass-2", "pw-confirm": "another-pass-2",
        "pw-submit": "1"})
    assert response.status_code == 302
    client.post("/account/logout")
    assert login(client, "lead@one.edu.cn").status_code == 200
    assert login(client, "lead@one.edu.cn", "another-pass-2").status_code == 302
