"""Personal API tokens and the secret calendar-feed URL: forms and services.

Services flush and never commit; the profile views commit. A token's plain text
exists only in the response that creates it; the database keeps its hash.
"""
from __future__ import annotations

import secrets

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from tracker.extensions import db
from tracker.models import ApiToken, User, utcnow
from tracker.services import ServiceError

MAX_ACTIVE_TOKENS = 20


class ApiTokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)],
                       description=_l("What the token is for, e.g. “grade-office script”."))
    submit = SubmitField(_l("Create token"))


def active_tokens(user: User) -> list[ApiToken]:
    return list(db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).scalars())


def create_token(user: User, name: str) -> str:
    """Issue a token; returns its plain text (to show once)."""
    count = db.session.execute(select(func.count()).select_from(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))).scalar_one()
    if count >= MAX_ACTIVE_TOKENS:
        raise ServiceError(_("You already have %(n)d tokens; revoke one you no longer use.",
                             n=MAX_ACTIVE_TOKENS), field="name")
    token, plain = ApiToken.issue(user, name.strip())
    db.session.add(token)
    db.session.flush()
    return plain


def revoke_token(user: User, token_id: int) -> ApiToken | None:
    """Revoke one of the user's own tokens; None when there is no such active token."""
    token = db.session.execute(select(ApiToken).where(
        ApiToken.id == token_id, ApiToken.user_id == user.id,
        ApiToken.revoked_at.is_(None))).scalar_one_or_none()
    if token is not None:
        token.revoked_at = utcnow()
        db.session.flush()
    return token


def replace_calendar_token(user: User) -> str:
    """A new secret for the calendar URL; the old URL stops working."""
    user.calendar_token = secrets.token_urlsafe(32)
    db.session.flush()
    return user.calendar_token


def remove_calendar_token(user: User) -> None:
    user.calendar_token = None
    db.session.flush()
