"""API blueprint, authentication and JSON errors (routes live in sibling modules).

Clients send ``Authorization: Bearer <personal token>`` (created on the profile
page, stored hashed). A logged-in browser session works too; a session that
writes must send the CSRF token in an ``X-CSRFToken`` header.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy import select, update
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from tracker.extensions import csrf, db
from tracker.models import ApiToken, User, utcnow
from tracker.models.token import hash_token

bp = Blueprint("api", __name__)
csrf.exempt(bp)  # token requests carry no cookie; session writes are checked below


# Endpoints anyone may read without a token (the OpenAPI description): see ``public``.
PUBLIC_ENDPOINTS: set[str] = set()
LAST_USED_RESOLUTION = timedelta(minutes=5)


def public(view):
    """Mark an API view as readable without authentication."""
    PUBLIC_ENDPOINTS.add(f"{bp.name}.{view.__name__}")
    return view


# Ids are 32-bit in the database; a larger one in a URL can name nothing.
MAX_ID = 2_147_483_647


@bp.url_value_preprocessor
def _ids_in_range(_endpoint, values):
    if values and any(isinstance(v, int) and v > MAX_ID for v in values.values()):
        abort(404)


def api_error(code: int, message: str, **extra):
    return jsonify({"error": {"code": code, "message": message, **extra}}), code


def _token_user() -> User | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = db.session.execute(select(ApiToken).where(
        ApiToken.token_hash == hash_token(header[7:].strip()),
        ApiToken.revoked_at.is_(None))).scalar_one_or_none()
    if token is None or not token.user.active:
        return None
    _record_use(token)
    return token.user


def _record_use(token: ApiToken) -> None:
    """Note when a token was last used, at most every few minutes. A write request
    commits it with its own changes; a read request stays read-only and records it in
    a separate short transaction (on SQLite a read transaction must not start writing)."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        token.last_used_at = now
        return
    with db.engine.begin() as connection:
        connection.execute(update(ApiToken).where(ApiToken.id == token.id)
                           .values(last_used_at=now))


@bp.before_request
def _authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user = _token_user()
    if user is None and request.headers.get("Authorization"):
        return api_error(401, _("Invalid or revoked API token."))
    if user is None and current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except ValidationError:
                return api_error(400, _("Missing or invalid X-CSRFToken header."))
        user = current_user._get_current_object()
    if user is None:
        return api_error(401, _("Authentication required."))
    g.api_user = user
    return None


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    from tracker.errors import messages

    code = exc.code or 500
    return api_error(code, messages().get(code) or exc.description or _("Error"))


def api_user() -> User:
    """The authenticated user of this API request (token or session)."""
    return g.api_user
