"""GET /api/v1/stats: the dashboard's figures as JSON (the same code path).

``?plan=ID`` (a plan of your school, or of a school in your district), ``?org=ID``
(your organisation or one of your district's schools; a district answers its roll-up),
``?term=ID`` and ``?department=ID`` narrow as on the dashboard. Without ``org`` or
``plan`` the figures are of your own organisation. Leaders and admins only.
"""
from __future__ import annotations

from flask import abort, jsonify, request
from flask_babel import gettext as _

from tracker import policy
from tracker.api.base import api_error, api_user, bp
from tracker.dashboard import services
from tracker.extensions import db
from tracker.inputs import whole_number
from tracker.models import OrgKind, Plan, utcnow

ARGS = ("plan", "org", "term", "department")


def _ints() -> dict[str, int | None] | None:
    values: dict[str, int | None] = {}
    for name in ARGS:
        raw = request.args.get(name, "").strip()
        if not raw:
            values[name] = None
        elif (number := whole_number(raw, maximum=None)) is not None:
            values[name] = number
        else:
            return None
    return values


@bp.get("/stats")
def stats():
    user = api_user()
    args = _ints()
    if args is None:
        return api_error(400, _("plan, org, term and department must be whole numbers."))
    if any(value is not None and value > policy.MAX_ID for value in args.values()):
        abort(404)
    org_id = args["org"] or user.organization_id
    if args["plan"] is not None:
        plan = db.session.get(Plan, args["plan"])
        if plan is None:
            abort(404)
        if args["org"] is not None and args["org"] != plan.organization_id:
            return api_error(400, _("The plan does not belong to that organisation."))
        org_id = plan.organization_id
    org = policy.get_org_for_stats_or_404(user, org_id)
    if org.kind == OrgKind.district and (args["plan"] or args["department"]):
        return api_error(400, _("A district's figures are filtered by term only."))
    try:
        dashboard = services.dashboard_for(db.session, org, now=utcnow(), term_id=args["term"],
                                           plan_id=args["plan"],
                                           department_id=args["department"])
    except services.NotFound:
        abort(404)
    return jsonify(dashboard.to_dict())
