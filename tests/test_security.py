"""Security headers, CSP without inline scripts, cookie flags, login rate limiting."""
import re
import socket
from pathlib import Path

import pytest

from config import ProductionConfig, TestingConfig
from tests.conftest import PASSWORD, login, page_csrf_token
from tracker import create_app
from tracker.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def test_security_headers_and_csp(client, world):
    response = client.get("/account/login")
    csp = response.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert len(response.headers["X-Request-ID"]) >= 8
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert echoed.headers["X-Request-ID"] == "abc123"


def test_no_template_has_an_inline_script():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>",
                                 text):
            offenders.append(f"{path.name}: {match.group(0)}")
        if re.search(r"\son[a-z]+=\"", text):
            offenders.append(f"{path.name}: inline event handler")
    assert offenders == []


def test_production_cookies_are_secure_httponly_samesite(tmp_path):
    class Prod(ProductionConfig):
        SECRET_KEY = "a-real-secret-for-this-test"
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'p.sqlite'}"
        RATELIMIT_ENABLED = False

    app = create_app(Prod, instance_path=str(tmp_path))
    with app.app_context():
        db.create_all()
        from tracker.models import Organization, User

        org = Organization(name="安全小学")
        db.session.add(org)
        db.session.flush()
        user = User(organization_id=org.id, name="甲", email="a@school.edu.cn")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
    client = app.test_client()
    response = client.post("/account/login", base_url="https://localhost",
                           data={"identifier": "a@school.edu.cn", "password": PASSWORD,
                                 "csrf_token": page_csrf_token(
                                     client, base_url="https://localhost")})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")




def _limited_app(tmp_path, storage: str | None = None):
    class Limited(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'l.sqlite'}"
        RATELIMIT_ENABLED = True
        LOGIN_RATE_LIMIT = "6 per minute"
        LOGIN_ACCOUNT_RATE_LIMIT = "3 per minute"
        RATELIMIT_STORAGE_URI = storage

    app = create_app(Limited, instance_path=str(tmp_path))
    with app.app_context():
        db.create_all()
    return app


def test_login_attempts_are_limited_per_account_and_per_address(tmp_path):
    client = _limited_app(tmp_path).test_client()
    codes = [login(client, "victim@school.edu.cn", "guess").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    blocked = login(client, "victim@school.edu.cn", "guess")
    assert blocked.status_code == 429
    assert "稍" in blocked.get_data(as_text=True) or "Wait a minute" in blocked.get_data(
        as_text=True)
    # Other accounts from the same address get through until the address's own limit.
    codes = [login(client, f"user{i}@school.edu.cn", "guess").status_code for i in range(6)]
    assert codes[0] == 200 and codes[-1] == 429


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_rate_limit_storage_in_redis_is_shared_between_app_instances(tmp_path):
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=15).flushdb()
    storage = "redis://127.0.0.1:6379/15"
    first = _limited_app(tmp_path / "a", storage).test_client()
    second = _limited_app(tmp_path / "b", storage).test_client()
    assert [login(first, "shared@school.edu.cn", "x").status_code for _ in range(3)] == [200] * 3
    assert login(second, "shared@school.edu.cn", "x").status_code == 429
