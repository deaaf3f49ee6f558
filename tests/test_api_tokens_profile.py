"""Personal API tokens on the profile page: create (shown once), list, revoke."""
from __future__ import annotations

import re

from tests.conftest import login
from tracker.extensions import db
from tracker.models import ApiToken


def test_create_use_and_revoke_a_token(app, client, world):
    login(client, world.emails["lead"])
    response = client.post("/account/tokens", data={"token-name": "教务处脚本"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    plain = re.search(r'id="new-token"[^>]*value="(pt_[^"]+)"', page, re.S).group(1)
    with app.app_context():
        token = db.session.execute(db.select(ApiToken)).scalar_one()
        assert token.token_hash != plain and plain not in token.token_hash
        token_id = token.id
    api = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    assert api.get("/api/v1/me/tasks", headers=headers).status_code == 200
    profile = client.get("/account/").get_data(as_text=True)
    assert "教务处脚本" in profile and plain not in profile  # shown once only
    with app.app_context():
        assert db.session.get(ApiToken, token_id).last_used_at is not None
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert api.get("/api/v1/me/tasks", headers=headers).status_code == 401
    client.get("/account/")  # shows the flash message
    assert "教务处脚本" not in client.get("/account/").get_data(as_text=True)


def test_a_token_needs_a_name_and_others_tokens_cannot_be_revoked(app, client, world):
    login(client, world.emails["lead"])
    assert client.post("/account/tokens", data={"token-name": ""}).status_code == 400
    client.post("/account/tokens", data={"token-name": "mine"})
    with app.app_context():
        token_id = db.session.execute(db.select(ApiToken.id)).scalar_one()
    client.post("/account/logout")
    login(client, world.emails["other"])
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None
