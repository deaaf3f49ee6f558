from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from flask_login import current_user
from sqlalchemy import text

from tracker import policy
from tracker.extensions import db

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    if policy.is_leader(current_user):
        return redirect(url_for("dashboard.index"))
    return redirect(url_for("tasks.mine"))


@bp.route("/healthz")
def health():
    """For load balancers: answers 200 when the database answers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means unhealthy
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok"})
