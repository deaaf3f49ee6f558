"""Leadership dashboards: the school view, the district view, and plotly.js itself.

Content-Security-Policy. Dashboard pages are sent with ``script-src 'self'`` and no
``'unsafe-eval'``: plotly.js is a file of this app and the figures are JSON read by
``static/js/dashboard.js`` (no inline script). The plotly.js bundled with plotly 7
contains ``Function(...)`` in two places — a ``new Function("return this")`` fallback
that only runs where ``globalThis`` is missing, and the ``function-bind`` polyfill that
only runs where ``Function.prototype.bind`` is missing — and in the WebGL (regl) trace
code, which these dashboards do not use (bar, pie and scatter traces draw SVG). So the
stock bundle runs under the strict policy; the browser test loads every chart under it
and fails on any CSP violation. Styles need ``'unsafe-inline'``: plotly.js writes
``<style>`` rules and SVG style attributes at run time.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import plotly
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required

from tracker import policy
from tracker.dashboard import figures, services
from tracker.extensions import db
from tracker.inputs import whole_number
from tracker.models import OrgKind, utcnow

bp = Blueprint("dashboard", __name__)

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_VERSION = plotly.__version__
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'self'")


@bp.after_request
def _content_security_policy(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CSP)
    return response


@bp.route("/plotly.min.js")
def plotly_js():
    """plotly.js from the installed plotly package. The URL carries the version
    (``?v=``), so browsers may keep it for a year."""
    response = send_file(PLOTLY_JS, mimetype="text/javascript", conditional=True,
                         max_age=365 * 24 * 3600)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


def int_arg(name: str) -> int | None:
    """An optional whole-number query argument; anything else is a 400."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    number = whole_number(value, maximum=None)
    if number is None:
        abort(400)
    if number > policy.MAX_ID:  # no such id can exist
        abort(404)
    return number


def load_dashboard(org, **filters):
    try:
        return services.dashboard_for(db.session, org, now=utcnow(), **filters)
    except services.NotFound:
        abort(404)


@bp.route("/")
@login_required
def index():
    policy.require(policy.is_leader(current_user))
    return _render(current_user.organization)


@bp.route("/org/<int:org_id>")
@login_required
def organization(org_id: int):
    org = policy.get_org_for_stats_or_404(current_user, org_id)
    return _render(org)


def _render(org):
    filters = {"term_id": int_arg("term")}
    if org.kind != OrgKind.district:
        filters.update(plan_id=int_arg("plan"), department_id=int_arg("department"))
    dashboard = load_dashboard(org, **filters)
    own = org.id == current_user.organization_id

    def list_url(**args) -> str | None:
        """The task list filtered like this dashboard plus ``args``. The task list shows
        the viewer's own organisation, so a district leader looking at a school gets
        the figures without links."""
        if not own or isinstance(dashboard, services.DistrictDashboard):
            return None
        base = {"plan": dashboard.plan_id, "department": dashboard.department_id}
        query = urlencode([(k, v) for k, v in {**base, **args}.items() if v is not None])
        return f"{tasks_url}?{query}" if query else tasks_url

    tasks_url = url_for("tasks.index")  # once: a chart has dozens of links

    if isinstance(dashboard, services.DistrictDashboard):
        charts = figures.district_figures(
            dashboard, lambda school_id: url_for(".organization", org_id=school_id))
        template = "dashboard/district.html"
    else:
        charts = figures.school_figures(
            dashboard, lambda **args: list_url(**args) if own else None)
        template = "dashboard/school.html"
    if current_app.config.get("DASHBOARD_VALIDATE_FIGURES",
                              current_app.debug or current_app.testing):
        figures.validate(charts)
    return render_template(template, d=dashboard, charts=list(charts),
                           figures_json=figures.to_json(charts), own=own,
                           list_url=list_url, plotly_version=PLOTLY_VERSION)
