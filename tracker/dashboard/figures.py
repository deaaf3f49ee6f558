"""Plotly figures for the dashboards, built in Python.

A figure is Plotly's own JSON form — ``{"data": [traces], "layout": {...}}`` — built as
plain dicts. ``plotly.graph_objects`` checks them against the plotly.js schema in
development and in the tests (``validate``; on when DEBUG or TESTING, or with
DASHBOARD_VALIDATE_FIGURES): an unknown or ill-typed property raises there. In
production the check is skipped: building a ``go.Figure`` costs 4–5 ms per figure
(measured), a third of the school dashboard's 50 ms budget for six figures, and
turns out the same JSON.

All figures are serialised with orjson into one ``<script type="application/json">``
block; ``static/js/dashboard.js`` draws them with the plotly.js that ships with the
plotly package (served by ``/dashboard/plotly.min.js``). A bar or slice that leads
somewhere carries its drill-down URL in ``customdata``; a click follows it.

Labels go through gettext; numbers use "." and "," separators and percentages are
shown as "85%"; dates on axes use numeric formats, so no month names depend on a
plotly.js locale bundle (the plotly package ships none).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import orjson
from flask_babel import gettext as _

from tracker import stats
from tracker.dashboard.services import DistrictDashboard, SchoolDashboard

COLOURS = {
    "completed": "#198754", "awaiting_acceptance": "#20c997", "in_progress": "#0d6efd",
    "not_started": "#adb5bd", "blocked": "#fd7e14", "cancelled": "#6c757d",
    "overdue": "#dc3545", "planned": "#6f42c1", "ideal": "#6c757d", "today": "#dc3545",
}
FONT = ("system-ui, -apple-system, 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', "
        "'Noto Sans CJK SC', 'Source Han Sans SC', sans-serif")
ROW_HEIGHT = 30
LABEL_LIMIT = 16

UrlFor = Callable[..., str | None]


def trace(kind: str, **props) -> dict:
    return {"type": kind, **props}


def figure(data: list[dict], layout: dict) -> dict:
    return {"data": data, "layout": layout}


def validate(figures: dict[str, dict]) -> None:
    """Check every figure against the plotly.js schema (raises ValueError)."""
    import plotly.graph_objects as go  # slow to import and to use: development and tests


    for spec in figures.values():
        go.Figure(spec)


def _layout(height: int, **extra) -> dict:
    layout = {
        "height": height, "autosize": True, "separators": ".,",
        "margin": {"l": 8, "r": 16, "t": 8, "b": 8, "pad": 4},
        "font": {"family": FONT, "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "showlegend": False, "hoverlabel": {"font": {"family": FONT}},
        "dragmode": False,
        # plotly.js's own defaults, not plotly.py's "plotly" template: that would add
        # 6.5 kB of styling to every figure.
        "template": "none",
    }
    layout.update(extra)
    return layout


def _short(label: str, limit: int = LABEL_LIMIT) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def rate_bars(groups: list[stats.Group], urls: list[str | None], *,
              fallback_label: str) -> dict:
    """Horizontal bars of completion rate, first group on top. Positions (not labels)
    are the categories, so two owners with the same name stay two bars."""
    labels = [g.label or fallback_label for g in groups]
    rates = [_pct(g.counts.completion_rate) or 0 for g in groups]
    text = [f"{_pct(g.counts.completion_rate) or 0:g}% ({g.counts.completed}/{g.counts.active})"
            for g in groups]
    hover = [_("%(label)s<br>Completed %(done)d of %(active)d · overdue %(overdue)d",
               label=label, done=g.counts.completed, active=g.counts.active,
               overdue=g.counts.overdue) for label, g in zip(labels, groups, strict=True)]
    positions = list(range(len(groups)))
    bar = trace("bar",
        x=rates, y=positions, orientation="h", text=text, textposition="auto",
        cliponaxis=False, customdata=urls, hovertext=hover, hoverinfo="text",
        marker={"color": [COLOURS["overdue"] if g.counts.overdue else COLOURS["completed"]
                          for g in groups]},
        insidetextanchor="start")
    layout = _layout(
        60 + ROW_HEIGHT * max(len(groups), 1),
        xaxis={"range": [0, 100], "ticksuffix": "%", "fixedrange": True, "zeroline": True,
               "gridcolor": "#e9ecef", "side": "top"},
        yaxis={"tickvals": positions, "ticktext": [_short(label) for label in labels],
               "autorange": "reversed", "fixedrange": True, "automargin": True},
        # Hover (and so a tap) anywhere along a row picks its bar, even a 0% one.
        hovermode="y", bargap=0.25)
    return figure([bar], layout)


def status_donut(counts: stats.Counts, url: Callable[[str], str | None],
                 requires_acceptance: bool) -> dict:
    parts = [
        ("completed", _("Completed") if requires_acceptance else _("Done"), counts.completed,
         "done"),
        ("awaiting_acceptance", _("Awaiting acceptance"), counts.awaiting_acceptance, "done"),
        ("in_progress", _("In progress"), counts.in_progress, "in_progress"),
        ("not_started", _("Not started"), counts.not_started, "not_started"),
        ("blocked", _("Blocked"), counts.blocked, "blocked"),
        ("cancelled", _("Cancelled"), counts.cancelled, "cancelled"),
    ]
    parts = [p for p in parts if p[2]]
    pie = trace("pie",
        labels=[p[1] for p in parts], values=[p[2] for p in parts], hole=0.55, sort=False,
        direction="clockwise", marker={"colors": [COLOURS[p[0]] for p in parts]},
        customdata=[url(p[3]) for p in parts], textinfo="value+percent",
        hovertemplate="%{label}: %{value} (%{percent})<extra></extra>")
    return figure([pie], _layout(
        300, showlegend=True, legend={"orientation": "h", "y": -0.05, "x": 0.5,
                                      "xanchor": "center"}))


def _steps(days: list[date], values: list, until: date | None = None) -> tuple[list, list]:
    """The points of a step line ("hv"): the first day, each day the value changes, and
    the last day (or ``until``). A term of 140 days becomes a few dozen points."""
    xs, ys = [], []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        if until is not None and day > until:
            break
        last = i == len(days) - 1 or (until is not None and day == until)
        if not ys or value != ys[-1] or last:
            xs.append(day.isoformat())
            ys.append(value)
    return xs, ys


def burn_up(series: stats.Series, today: date) -> dict:
    """Cumulative completed (up to today) and planned against the ideal line."""
    days = series.days()
    done_x, done_y = _steps(days, series.cumulative("completed"), until=today)
    plan_x, plan_y = _steps(days, series.cumulative("planned"))
    traces = [
        trace("scatter", x=[series.start.isoformat(), series.end.isoformat()],
                   y=[0, series.active_total], name=_("Ideal"), mode="lines",
                   line={"color": COLOURS["ideal"], "dash": "dot", "width": 1.5},
                   hoverinfo="skip"),
        trace("scatter", x=plan_x, y=plan_y, name=_("Planned (due)"), mode="lines",
                   line={"color": COLOURS["planned"], "width": 2, "shape": "hv"},
                   hovertemplate="%{y}"),
        trace("scatter", x=done_x, y=done_y, name=_("Completed"), mode="lines",
                   line={"color": COLOURS["completed"], "width": 3, "shape": "hv"},
                   hovertemplate="%{y}"),
    ]
    layout = _layout(
        320, showlegend=True, hovermode="x unified",
        legend={"orientation": "h", "y": 1.12, "x": 0},
        xaxis={"type": "date", "tickformat": _("%m-%d"), "hoverformat": "%Y-%m-%d",
               "fixedrange": True, "gridcolor": "#e9ecef",
               "range": [series.start.isoformat(), series.end.isoformat()]},
        yaxis={"rangemode": "tozero", "fixedrange": True, "gridcolor": "#e9ecef",
               "tickformat": "d"})
    if series.start <= today <= series.end:
        layout["shapes"] = [{"type": "line", "x0": today.isoformat(), "x1": today.isoformat(),
                             "yref": "paper", "y0": 0, "y1": 1,
                             "line": {"color": COLOURS["today"], "width": 1, "dash": "dash"}}]
        layout["annotations"] = [{"x": today.isoformat(), "y": 1, "yref": "paper",
                                  "text": _("Today"), "showarrow": False, "yanchor": "bottom",
                                  "font": {"color": COLOURS["today"], "size": 11}}]
    return figure(traces, layout)


DEADLINE_STATUSES = ("done", "in_progress", "not_started", "blocked")


def deadlines_per_week(weeks: list[tuple[date, date, dict[str, int]]],
                       url: Callable[[date, date, str], str | None]) -> dict:
    """Tasks due in each remaining week, stacked by status; each block drills down to the
    tasks of that status due that week."""
    names = {"done": _("Done"), "in_progress": _("In progress"),
             "not_started": _("Not started"), "blocked": _("Blocked")}
    labels = [f"{a.month}/{a.day}–{b.month}/{b.day}" for a, b, _c in weeks]
    positions = list(range(len(weeks)))
    traces = []
    for status in DEADLINE_STATUSES:
        values = [counts.get(status, 0) for _a, _b, counts in weeks]
        if not any(values):
            continue
        traces.append(trace("bar",
            x=positions, y=values, name=names[status],
            marker={"color": COLOURS["completed" if status == "done" else status]},
            customdata=[url(a, b, status) if n else None
                        for (a, b, _c), n in zip(weeks, values, strict=True)],
            hovertext=[_("%(week)s · %(status)s: %(n)d", week=label, status=names[status], n=n)
                       for label, n in zip(labels, values, strict=True)],
            hoverinfo="text"))
    return figure(traces, _layout(
        280, barmode="stack", showlegend=True, legend={"orientation": "h", "y": 1.15, "x": 0},
        xaxis={"tickvals": positions, "ticktext": labels, "tickangle": -45,
               "fixedrange": True, "automargin": True},
        yaxis={"rangemode": "tozero", "fixedrange": True, "tickformat": "d",
               "gridcolor": "#e9ecef"}, bargap=0.2))


def school_trends(dashboard: DistrictDashboard) -> dict:
    """Cumulative completion rate per week: the district and its weakest schools."""
    scope = dashboard.scope
    weeks = (scope.end - scope.start).days // 7 + 1
    x = [(scope.start + timedelta(weeks=i)).isoformat() for i in range(weeks)]
    today = dashboard.today
    last = max(0, min(weeks - 1, (today - scope.start).days // 7))

    def cumulative_rate(per_week: list[int], active: int) -> list[float | None]:
        out, running = [], 0
        for i, n in enumerate(per_week):
            running += n
            out.append(round(running * 100 / active, 1) if active and i <= last else None)
        return out

    totals = [0] * weeks
    for per_week in dashboard.weekly.values():
        for i, n in enumerate(per_week):
            totals[i] += n
    traces = [trace("scatter", x=x, y=cumulative_rate(totals, dashboard.totals.active),
                         name=_("District"), mode="lines+markers",
                         line={"color": COLOURS["completed"], "width": 3},
                         hovertemplate="%{y}%")]
    weakest = [g for g in stats.worst_first(dashboard.schools) if g.counts.active]
    for group in weakest[:5]:
        traces.append(trace("scatter",
            x=x, y=cumulative_rate(dashboard.weekly.get(group.key, []), group.counts.active),
            name=_short(group.label, 10), mode="lines", line={"width": 1.5},
            hovertemplate="%{y}%"))
    return figure(traces, _layout(
        320, showlegend=True, hovermode="x unified",
        legend={"orientation": "h", "y": -0.2, "x": 0},
        xaxis={"type": "date", "tickformat": _("%m-%d"), "hoverformat": "%Y-%m-%d",
               "fixedrange": True, "gridcolor": "#e9ecef"},
        yaxis={"range": [0, 100], "ticksuffix": "%", "fixedrange": True,
               "gridcolor": "#e9ecef"}))


def overdue_bars(groups: list[stats.Group], urls: list[str | None]) -> dict:
    positions = list(range(len(groups)))
    bar = trace("bar", x=[g.counts.overdue for g in groups], y=positions, orientation="h",
                 text=[g.counts.overdue for g in groups], textposition="auto",
                 customdata=urls, marker={"color": COLOURS["overdue"]},
                 hovertext=[_("%(label)s: %(n)d overdue", label=g.label, n=g.counts.overdue)
                            for g in groups], hoverinfo="text")
    return figure([bar], _layout(
        60 + ROW_HEIGHT * max(len(groups), 1),
        xaxis={"rangemode": "tozero", "fixedrange": True, "tickformat": "d", "side": "top",
               "gridcolor": "#e9ecef"},
        yaxis={"tickvals": positions, "ticktext": [_short(g.label) for g in groups],
               "autorange": "reversed", "fixedrange": True, "automargin": True}))


# ---------------------------------------------------------------------------- whole pages


def school_figures(d: SchoolDashboard, task_url: UrlFor) -> dict[str, dict]:
    """All charts of a school dashboard. ``task_url(**filters)`` gives the drill-down URL
    of the task list (or None when the viewer may not drill down)."""
    base = {"plan": d.plan_id, "department": d.department_id}
    figures: dict[str, dict] = {}
    if d.sections:
        figures["sections"] = rate_bars(
            d.sections,
            [task_url(**{**base, "plan": d.section_plan_id, "section": g.key}) if g.key else
             task_url(**base) for g in d.sections],
            fallback_label=_("Outside the plan"))
    elif d.by_plan:
        figures["sections"] = rate_bars(
            d.by_plan, [task_url(**{**base, "plan": g.key}) if g.key else None
                        for g in d.by_plan], fallback_label=_("No plan"))
    if d.departments_stats:
        figures["departments"] = rate_bars(
            d.departments_stats,
            [task_url(**{**base, "department": g.key}) for g in d.departments_stats],
            fallback_label=_("Unassigned"))
    if d.owners:
        figures["owners"] = rate_bars(
            d.owners, [task_url(**{**base, "owner": g.key}) for g in d.owners],
            fallback_label=_("Unassigned"))
    if d.totals.total:
        figures["status"] = status_donut(d.totals, lambda s: task_url(**base, status=s),
                                         d.org.requires_acceptance)
    figures["burnup"] = burn_up(d.series, d.today)
    weeks = d.series.weekly_due(d.deadlines_from)
    if any(counts for _a, _b, counts in weeks):
        figures["deadlines"] = deadlines_per_week(
            weeks, lambda a, b, status: task_url(**base, status=status, due_from=a.isoformat(),
                                                 due_to=b.isoformat()))
    return figures


def district_figures(d: DistrictDashboard, school_url: Callable[[int], str]) -> dict:
    worst = stats.worst_first(d.schools)
    figures: dict[str, dict] = {}
    if worst:
        figures["schools"] = rate_bars(worst, [school_url(g.key) for g in worst],
                                       fallback_label="")
        most_overdue = sorted((g for g in d.schools if g.counts.overdue),
                              key=lambda g: (-g.counts.overdue, g.label))[:15]
        if most_overdue:
            figures["overdue"] = overdue_bars(most_overdue,
                                              [school_url(g.key) for g in most_overdue])
        figures["trends"] = school_trends(d)
    figures["burnup"] = burn_up(d.series, d.today)
    return figures


def to_json(figures: dict[str, dict]) -> str:
    """One JSON object {name: {data, layout}}, safe inside a <script> element."""
    text = orjson.dumps(figures).decode()
    # "<" only occurs inside JSON strings, where \u003c means the same character.
    return text.replace("<", "\\u003c")
