"""Flask-Login wiring and the login service."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

from tracker.extensions import db, login_manager
from tracker.inputs import MAX_ID
from tracker.models import User, utcnow

login_manager.login_view = "accounts.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

_PHONE_CHARS = re.compile(r"[\s\-()（）+]")


def normalise_phone(value: str | None) -> str | None:
    """Keep digits only; drop a leading 86 country code on 13-digit numbers."""
    if not value:
        return None
    digits = _PHONE_CHARS.sub("", str(value).strip())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits or None


def normalise_email(value: str) -> str:
    return value.strip().lower()


# Every page reads the user's organisation (time zone, settings): it is loaded in the same
# statement rather than in a second round trip. Built once (``session.get`` with loader
# options builds its query on every call, about half the cost of loading the user).
_USER_WITH_ORGANIZATION = (select(User).options(joinedload(User.organization))
                           .where(User.id == bindparam("user_id")))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        number = int(user_id)
    except (TypeError, ValueError):
        return None
    if not 0 < number <= MAX_ID:
        return None
    return db.session.execute(_USER_WITH_ORGANIZATION,
                              {"user_id": number}).scalar_one_or_none()


def find_login_user(identifier: str) -> User | None:
    identifier = identifier.strip()
    if "@" in identifier:
        stmt = select(User).where(func.lower(User.email) == normalise_email(identifier))
    else:
        stmt = select(User).where(User.phone == normalise_phone(identifier))
    return db.session.execute(stmt).scalar_one_or_none()


def authenticate(identifier: str, password: str) -> User | None:
    """The user for these credentials, or None (also for deactivated users)."""
    user = find_login_user(identifier)
    if user is None or not user.check_password(password) or not user.active:
        return None
    user.last_login_at = utcnow()
    return user
