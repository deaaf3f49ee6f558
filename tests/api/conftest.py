"""API test helpers: a personal token per role of the ``world`` fixture."""
from __future__ import annotations

import pytest

from tracker.extensions import db
from tracker.models import ApiToken, User


@pytest.fixture
def tokens(app, world) -> dict[str, str]:
    """role → plain API token (Bearer) for every user of ``world``."""
    plain: dict[str, str] = {}
    with app.app_context():
        for role, user_id in world.user_ids.items():
            token, plain[role] = ApiToken.issue(db.session.get(User, user_id), f"{role} token")
            db.session.add(token)
        db.session.commit()
        db.session.remove()
    return plain


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
