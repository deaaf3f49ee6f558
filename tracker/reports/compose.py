"""The term report's composer: plan tree + statistics + task history → a ``Document``.

Pure logic: no Flask, no database. ``data.load`` gathers a ``ReportInput`` (plan nodes,
tasks, history, evidence counts and the figures of ``tracker.stats``); ``compose``
writes the report in the plan's own structure:

- a title "<organisation><term>工作计划执行、完成情况", an opening paragraph and a table
  of the overall figures (exactly ``tracker.stats.totals`` of the plan), charts;
- every *section* of the plan in document order, under its own numbering (一、（一）1.…):
  a section is a plan node with children whose subtree holds at least one task (a
  heading with nothing to report under it is left out). Each section gives its
  completion rate (the ``tracker.stats`` counts of its subtree) and its measures: those
  done with what was recorded (latest meaningful notes, evidence, actual against
  target, completion date) and those not done with their status and the reason given.
  A section's measures and sub-sections come in the plan's order: measures written
  after a sub-section follow it, under a title naming the section they continue;
- what changed against the plan as written, the previous term, problems and next
  steps, and the ledger (台账) of every measure.

A *measure* is a task of the plan that is not an occurrence; a recurring measure's
figures are its occurrences' (as in ``tracker.stats``).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tracker.reports.document import (
    ChartRef,
    ChartSpec,
    Document,
    Heading,
    Item,
    ItemList,
    Paragraph,
    Table,
)
from tracker.reports.phrases import fmt_date, fmt_number, fmt_rate, translator

# Measures created this long after the plan itself count as "added" to it.
ADDED_AFTER = timedelta(minutes=10)
NOTES_PER_MEASURE = 2
NOTE_MAX_CHARS = 160
NEXT_STEPS_LIMIT = 12
# Notes that say nothing about the work (system notes, acknowledgements).
BOILERPLATE = {
    "验收通过", "同意", "已完成", "完成", "好", "收到", "已阅", "ok", "done", "accepted",
    "pushed down by the district", "measure removed in a revision of the plan",
}
_PUNCT = re.compile(r"[\s。.，,！!；;：:、]+")


# ---------------------------------------------------------------------------- input


@dataclass
class NodeRow:
    id: int
    parent_id: int | None
    position: int
    label: str
    heading: str
    text: str
    kind: str


@dataclass
class TaskRow:
    id: int
    parent_id: int | None
    node_id: int | None             # effective (an occurrence without one takes its parent's)
    title: str
    status: str
    acceptance: str
    progress: int
    due: date | None
    completed_on: date | None       # local date in the school's time zone
    created_at: datetime
    owner: str | None
    department: str | None
    target_text: str | None
    target_value: Decimal | None
    target_unit: str | None
    actual_value: Decimal | None
    recurrence: str | None


@dataclass
class EventRow:
    task_id: int
    kind: str
    changes: dict
    note: str
    created_on: date                # local date
    created_at: datetime


@dataclass
class PreviousTerm:
    term_name: str
    plan_title: str
    counts: Any                     # tracker.stats.Counts


@dataclass
class ReportInput:
    org_name: str
    term_name: str | None
    plan_title: str
    plan_created_at: datetime
    today: date
    requires_acceptance: bool
    nodes: list[NodeRow]
    tasks: list[TaskRow]
    events: list[EventRow]          # oldest first
    evidence: dict[int, int]        # task id → attachments
    totals: Any                     # tracker.stats.Counts of the plan
    node_counts: dict               # node id (or None) → Counts  (stats.grouped_counts "node")
    sections_top: list[Any]         # stats.by_section
    departments: list[Any]          # stats.by_department
    series: Any                     # stats.completion_series
    previous: PreviousTerm | None = None


# ---------------------------------------------------------------------------- output


@dataclass
class MeasureView:
    task_id: int
    node_id: int | None
    path: str
    label: str
    title: str
    state: str                      # done, awaiting, in_progress, not_started, blocked, cancelled
    done_count: int
    active_count: int
    recurring: bool
    overdue_days: int               # largest among its open overdue tasks, 0 if none
    completed_on: date | None
    late_days: int
    due: date | None
    owner: str
    department: str
    progress: int
    notes: list[str]
    reason: str
    evidence: int
    target: str
    actual: str
    created_at: datetime
    added: bool


@dataclass
class SectionView:
    node_id: int | None
    depth: int
    label: str
    heading: str
    counts: Any
    measures: list[MeasureView] = field(default_factory=list)
    # Its own measures and its sub-sections, interleaved as the plan has them.
    parts: list[MeasureView | SectionView] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.label}{self.heading}".strip()


@dataclass
class Report:
    """What ``compose`` found, kept next to the document for tests and the district."""

    document: Document
    sections: list[SectionView]
    measures: list[MeasureView]
    totals: Any


# ---------------------------------------------------------------------------- helpers


def first_line(text: str) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def heading_of(node: NodeRow, limit: int = 80) -> str:
    text = first_line(node.heading) or first_line(node.text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def meaningful(note: str) -> bool:
    key = _PUNCT.sub("", (note or "").strip().lower())
    return len(key) >= 2 and key not in {_PUNCT.sub("", b) for b in BOILERPLATE}


def clip(text: str, limit: int = NOTE_MAX_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_completed(task: TaskRow, requires_acceptance: bool) -> bool:
    return task.status == "done" and (not requires_acceptance or task.acceptance == "accepted")


def _reason_event(event: EventRow) -> bool:
    if event.kind in ("cancelled", "sent_back"):
        return True
    status = (event.changes or {}).get("status")
    return bool(status) and len(status) == 2 and status[1] in ("blocked", "cancelled")


def _progress_note(event: EventRow) -> bool:
    return event.kind in ("updated", "note", "edited", "accepted") and not _reason_event(event)


def _with_period(text: str, t) -> str:
    text = text.rstrip()
    return text if not text or text[-1] in "。.!！?？…" else text + t("sentence_end")


# ---------------------------------------------------------------------------- compose


def compose(data: ReportInput, lang: str = "zh_CN") -> Report:
    t = translator(lang)
    measures = _measures(data, lang, t)
    sections, loose, other = _sections(data, measures)
    charts = _charts(data, sections, t, lang)

    blocks: list = []
    blocks.extend(_opening(data, measures, t, lang))
    blocks.append(Heading(1, t("figures"), "figures"))
    blocks.append(_figures_table(data, measures, t))
    blocks.extend(ChartRef(c.key, c.title) for c in charts)
    if data.departments:
        blocks.append(_department_table(data, t))

    if loose:
        blocks.append(Heading(1, t("main_work"), "main-work"))
        blocks.extend(_measure_lists(loose, t, lang))
    for section in sections:
        if section.depth == 1:  # each sub-section is written inside its section
            blocks.extend(_section_blocks(section, t, lang))
    if other is not None:
        blocks.append(Heading(1, t("other_tasks"), "other"))
        blocks.append(Paragraph(_section_rate(other.counts, t)))
        blocks.extend(_measure_lists(other.measures, t, lang))

    blocks.extend(_changes(data, measures, t, lang))
    blocks.extend(_comparison(data, t))
    blocks.extend(_problems(data, measures, t, lang))
    ledger = _ledger(measures, t, lang)
    blocks.append(Heading(1, t("ledger"), "ledger"))
    blocks.append(ledger)

    if data.term_name:
        title = t("title", org=data.org_name, term=data.term_name)
    else:
        title = t("title_no_term", org=data.org_name)
    document = Document(lang=lang, title=title,
                        subtitle=t("subtitle", plan=data.plan_title,
                                   day=fmt_date(data.today, lang)),
                        blocks=blocks, ledger=ledger, ledger_title=t("ledger"), charts=charts,
                        filename_stem=title)
    return Report(document=document, sections=sections + ([other] if other else []),
                  measures=measures, totals=data.totals)


def _paths(nodes: list[NodeRow]) -> dict[int, str]:
    by_id = {n.id: n for n in nodes}
    paths: dict[int, str] = {}
    for node in nodes:
        labels, cursor, seen = [], node, 0
        while cursor is not None and seen < 64:
            labels.append(cursor.label)
            cursor = by_id.get(cursor.parent_id) if cursor.parent_id is not None else None
            seen += 1
        paths[node.id] = "".join(reversed(labels))
    return paths


def _measures(data: ReportInput, lang: str, t) -> list[MeasureView]:
    nodes = {n.id: n for n in data.nodes}
    paths = _paths(data.nodes)
    children: dict[int, list[TaskRow]] = defaultdict(list)
    for task in data.tasks:
        if task.parent_id is not None:
            children[task.parent_id].append(task)
    events: dict[int, list[EventRow]] = defaultdict(list)
    for event in data.events:
        events[event.task_id].append(event)
    added_after = data.plan_created_at + ADDED_AFTER
    position = {n.id: n.position for n in data.nodes}

    result = []
    for task in data.tasks:
        if task.parent_id is not None:
            continue
        counted = children.get(task.id) or [task]
        family = [task] + children.get(task.id, [])
        active = [c for c in counted if c.status != "cancelled"]
        completed = [c for c in active if is_completed(c, data.requires_acceptance)]
        open_overdue = [c for c in active if c.status in ("not_started", "in_progress", "blocked")
                        and c.due is not None and c.due < data.today]
        if not active:
            state = "cancelled"
        elif len(completed) == len(active):
            state = "done"
        elif any(c.status == "blocked" for c in active):
            state = "blocked"
        elif all(c.status == "done" for c in active):
            state = "awaiting"
        elif completed or any(c.status in ("in_progress", "done") for c in active):
            state = "in_progress"
        else:
            state = "not_started"
        completed_on = max((c.completed_on for c in completed if c.completed_on),
                           default=None) if state == "done" else None
        late_days = max(((c.completed_on - c.due).days for c in completed
                         if c.completed_on and c.due and c.completed_on > c.due), default=0)
        history = sorted((e for member in family for e in events.get(member.id, [])),
                         key=lambda e: e.created_at)
        notes: list[str] = []
        for event in reversed(history):
            if _progress_note(event) and meaningful(event.note):
                note = clip(event.note)
                if note not in notes:
                    notes.append(note)
            if len(notes) >= NOTES_PER_MEASURE:
                break
        reason = _reason(history, state, t)
        node = nodes.get(task.node_id) if task.node_id is not None else None
        target = task.target_text or ""
        if not target and task.target_value is not None:
            target = fmt_number(task.target_value) + (task.target_unit or "")
        actual = (fmt_number(task.actual_value) + (task.target_unit or "")
                  if task.actual_value is not None else "")
        progress = (round(100 * len(completed) / len(active)) if active and len(counted) > 1
                    else task.progress)
        result.append(MeasureView(
            task_id=task.id, node_id=task.node_id,
            path=paths.get(task.node_id, "") if task.node_id is not None else "",
            label=node.label if node else "", title=first_line(task.title) or task.title,
            state=state, done_count=len(completed), active_count=len(active),
            recurring=len(counted) > 1 or task.recurrence is not None,
            overdue_days=max(((data.today - c.due).days for c in open_overdue), default=0),
            completed_on=completed_on, late_days=late_days,
            due=max((c.due for c in counted if c.due), default=None),
            owner=task.owner or "", department=task.department or "",
            progress=progress, notes=list(reversed(notes)), reason=reason,
            evidence=sum(data.evidence.get(m.id, 0) for m in family),
            target=target, actual=actual, created_at=task.created_at,
            added=task.created_at > added_after))
    result.sort(key=lambda m: (position.get(m.node_id, 1 << 30) if m.node_id is not None
                               else 1 << 30, m.task_id))
    return result


def _reason(history: list[EventRow], state: str, t) -> str:
    """Why a measure is not done: the latest note of the event that made it so (blocked,
    cancelled), or of a leader sending it back; nothing for other states."""
    for event in reversed(history):
        status = (event.changes or {}).get("status") or [None, None]
        made_it = (state == "blocked" and status[-1] == "blocked"
                   or state == "cancelled" and (event.kind == "cancelled"
                                                or status[-1] == "cancelled")
                   or state in ("in_progress", "not_started") and event.kind == "sent_back")
        if made_it and (event.note or "").strip():
            note = event.note.strip()
            if note == "measure removed in a revision of the plan":
                return t("removed_in_revision")
            return clip(note)
        if made_it:
            return ""
    return ""


def _subtree_counts(data: ReportInput, children: dict, node_id: int):
    total = None
    stack = [node_id]
    while stack:
        current = stack.pop()
        counts = data.node_counts.get(current)
        if counts is not None:
            total = counts if total is None else total + counts
        stack.extend(children.get(current, []))
    return total


def _sections(data: ReportInput, measures: list[MeasureView]):
    """Sections in document order, each with its own measures; measures outside any
    section ("loose": a flat plan) and tasks outside the plan's tree ("other")."""
    nodes = sorted(data.nodes, key=lambda n: n.position)
    by_id = {n.id: n for n in nodes}
    children: dict[int | None, list[int]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node.id)
    with_tasks = {m.node_id for m in measures if m.node_id is not None}
    has_tasks: dict[int, bool] = {}

    def subtree_has_tasks(node_id: int) -> bool:
        if node_id not in has_tasks:
            has_tasks[node_id] = node_id in with_tasks or any(
                subtree_has_tasks(c) for c in children.get(node_id, []))
        return has_tasks[node_id]

    section_ids = [n.id for n in nodes
                   if (children.get(n.id) or n.kind == "section") and subtree_has_tasks(n.id)]
    is_section = set(section_ids)

    def depth(node_id: int) -> int:
        level, cursor = 1, by_id[node_id].parent_id
        while cursor is not None:
            if cursor in is_section:
                level += 1
            cursor = by_id[cursor].parent_id if cursor in by_id else None
        return min(level, 4)

    def home_of(node_id: int | None) -> int | None:
        """The nearest section at or above a node."""
        cursor = node_id
        while cursor is not None and cursor not in is_section:
            cursor = by_id[cursor].parent_id if cursor in by_id else None
        return cursor

    views = {}
    for node_id in section_ids:
        node = by_id[node_id]
        counts = _subtree_counts(data, children, node_id)
        views[node_id] = SectionView(node_id=node_id, depth=depth(node_id), label=node.label,
                                     heading=heading_of(node), counts=counts)
    top: list[SectionView] = []
    for node_id in section_ids:
        parent = home_of(by_id[node_id].parent_id)
        (views[parent].parts if parent is not None else top).append(views[node_id])
    loose: list[MeasureView] = []
    other_measures: list[MeasureView] = []
    for measure in measures:
        home = home_of(measure.node_id)
        if home is not None:
            views[home].measures.append(measure)
        elif measure.node_id is not None and measure.node_id in by_id:
            loose.append(measure)
        else:
            other_measures.append(measure)
    # A section's own measures go between its sub-sections where the plan has them
    # (a measure on the section's own node comes first); measures arrive in plan order.
    position = {n.id: n.position for n in nodes}
    for view in views.values():
        view.parts = sorted(view.measures + view.parts, key=lambda part: (
            position[part.node_id], 0 if isinstance(part, MeasureView) else 1))
    other = None
    other_counts = data.node_counts.get(None)
    if other_counts is not None and other_counts.total:
        other = SectionView(node_id=None, depth=1, label="", heading="", counts=other_counts,
                            measures=other_measures)
    return _in_reading_order(top), loose, other


def _in_reading_order(sections: list[SectionView]) -> list[SectionView]:
    """Every section, each before its sub-sections."""
    result = []
    for section in sections:
        result.append(section)
        result.extend(_in_reading_order([p for p in section.parts
                                         if isinstance(p, SectionView)]))
    return result


def _section_blocks(section: SectionView, t, lang: str) -> list:
    """A section's heading and rate, then its parts in the plan's order: a run of its own
    measures as lists, each sub-section in full. A run after a sub-section names the
    section it continues, or it would read as the sub-section's."""
    blocks: list = [Heading(section.depth, section.title, f"s{section.node_id}",
                            section_id=section.node_id),
                    Paragraph(_section_rate(section.counts, t))]
    run: list[MeasureView] = []
    continued = False
    for part in section.parts + [None]:
        if isinstance(part, MeasureView):
            run.append(part)
            continue
        if run:
            blocks.extend(_measure_lists(run, t, lang,
                                         continues=section.title if continued else None))
            run = []
        if part is not None:
            blocks.extend(_section_blocks(part, t, lang))
            continued = True
    return blocks


def _status_text(measure: MeasureView, t) -> str:
    return t({"done": "status_done", "awaiting": "status_awaiting",
              "in_progress": "status_in_progress", "not_started": "status_not_started",
              "blocked": "status_blocked", "cancelled": "status_cancelled"}[measure.state])


def _who(measure: MeasureView, t) -> str:
    names = [n for n in (measure.department, measure.owner) if n]
    return t("name_sep").join(names) if names else t("nobody")


def _done_text(m: MeasureView, t, lang: str) -> str:
    sep = t("list_sep")
    parts = []
    when = t("done_on", day=fmt_date(m.completed_on, lang)) if m.completed_on else t("status_done")
    if m.due and m.completed_on:
        when += t("name_sep") + (t("late_by", days=m.late_days) if m.late_days else t("on_time"))
    parts.append(when)
    if m.recurring and m.active_count > 1:
        parts.append(t("recurring", total=m.active_count, done=m.done_count))
    if m.notes:
        parts.append(t("notes", notes=sep.join(n.rstrip("。.；;") for n in m.notes)))
    parts.append(t("evidence", n=m.evidence) if m.evidence else t("no_evidence"))
    if m.target:
        parts.append(t("target", target=m.target))
    if m.actual:
        parts.append(t("actual", actual=m.actual))
    return _with_period(sep.join(parts), t)


def _not_done_text(m: MeasureView, t, lang: str) -> str:
    sep = t("list_sep")
    parts = [_status_text(m, t)]
    if m.state != "cancelled":
        if m.recurring and m.active_count > 1:
            parts.append(t("recurring", total=m.active_count, done=m.done_count))
        elif m.state in ("in_progress", "blocked") and m.progress:
            parts.append(t("progress", n=m.progress))
        if m.overdue_days:
            parts.append(t("overdue_days", days=m.overdue_days))
        elif m.due:
            parts.append(t("due", day=fmt_date(m.due, lang)))
    if m.state in ("blocked", "cancelled") or m.reason:
        parts.append(t("reason", reason=(m.reason or t("no_reason")).rstrip("。.")))
    elif m.notes:
        parts.append(t("notes", notes=m.notes[-1].rstrip("。.")))
    if m.state != "cancelled":
        parts.append(t("lead", who=_who(m, t)))
    return _with_period(sep.join(parts), t)


def _measure_lists(measures: list[MeasureView], t, lang: str,
                   continues: str | None = None) -> list:
    """The measures done, then those not done; ``continues`` names the section a run of
    measures after one of its sub-sections belongs to."""
    done = [m for m in measures if m.state == "done"]
    rest = [m for m in measures if m.state != "done"]
    if continues is None:
        done_title, not_done_title = t("done_title"), t("not_done_title")
    else:
        done_title = t("done_title_continued", section=continues)
        not_done_title = t("not_done_title_continued", section=continues)
    blocks = []
    if done:
        blocks.append(ItemList(done_title, [
            Item(f"{m.label}{m.title}", _done_text(m, t, lang), "done") for m in done]))
    if rest:
        blocks.append(ItemList(not_done_title, [
            Item(f"{m.label}{m.title}", _not_done_text(m, t, lang), m.state) for m in rest]))
    return blocks


def _section_rate(counts, t) -> str:
    if counts is None or not counts.total:
        return t("section_rate", tasks=0, completed=0, rate=t("no_rate"))
    if not counts.active:
        return t("section_all_cancelled", tasks=counts.total)
    key = "section_rate_overdue" if counts.overdue else "section_rate"
    return t(key, tasks=counts.active, completed=counts.completed,
             rate=fmt_rate(counts.completion_rate), overdue=counts.overdue)


def _opening(data: ReportInput, measures: list[MeasureView], t, lang: str) -> list:
    c = data.totals
    if c.active:
        sentence = t("status_sentence", completed=c.completed, rate=fmt_rate(c.completion_rate),
                     on_time=fmt_rate(c.on_time_rate), overdue=c.overdue)
        if c.blocked:
            sentence += t("extra_blocked", n=c.blocked)
        if c.awaiting_acceptance:
            sentence += t("extra_awaiting", n=c.awaiting_acceptance)
    else:
        sentence = t("status_nothing")
    intro = t("intro", term=data.term_name or "", org=data.org_name, plan=data.plan_title,
              measures=len(measures), tasks=c.total, day=fmt_date(data.today, lang),
              status_sentence=sentence)
    if not data.term_name:
        intro = intro.lstrip("，, ").replace("In , ", "")
    return [Paragraph(intro, "lead")]


def _figures_table(data: ReportInput, measures: list[MeasureView], t) -> Table:
    c = data.totals
    rows = [[t("fig_measures"), str(len(measures))], [t("fig_tasks"), str(c.total)],
            [t("fig_cancelled"), str(c.cancelled)], [t("fig_completed"), str(c.completed)],
            [t("fig_rate"), fmt_rate(c.completion_rate)],
            [t("fig_on_time"), fmt_rate(c.on_time_rate)],
            [t("fig_overdue"), str(c.overdue)], [t("fig_blocked"), str(c.blocked)]]
    if data.requires_acceptance:
        rows.append([t("fig_awaiting"), str(c.awaiting_acceptance)])
    if c.average_delay_days is not None:
        rows.append([t("fig_delay"), f"{c.average_delay_days:.1f}"])
    return Table([t("fig_item"), t("fig_value")], rows, numeric=(1,))


def _department_table(data: ReportInput, t) -> Table:
    rows = []
    for group in data.departments:
        c = group.counts
        rows.append([group.label or t("dept_none"), str(c.active), str(c.completed),
                     fmt_rate(c.completion_rate), fmt_rate(c.on_time_rate), str(c.overdue)])
    return Table([t("dept_name"), t("col_tasks"), t("col_completed"), t("col_rate"),
                  t("col_on_time"), t("col_overdue")], rows, numeric=(1, 2, 3, 4, 5),
                 caption=t("departments"))


def _charts(data: ReportInput, sections: list[SectionView], t, lang: str) -> list[ChartSpec]:
    charts = []
    top = [s for s in sections if s.depth == 1]
    shown = top
    if len(top) == 1:  # one top section (e.g. 工作措施): chart its subsections instead
        shown = [s for s in sections if s.depth == 2] or top
    shown = [s for s in shown if s.counts is not None and s.counts.active]
    if shown:
        charts.append(ChartSpec(
            key="sections", kind="bars", title=t("chart_sections"),
            labels=[s.title for s in shown],
            values=[s.counts.completion_rate or 0 for s in shown],
            counts=[f"{s.counts.completed}/{s.counts.active}" for s in shown],
            axis_label=t("axis_rate")))
    departments = [g for g in data.departments if g.counts.active]
    if departments:
        charts.append(ChartSpec(
            key="departments", kind="bars", title=t("chart_departments"),
            labels=[g.label or t("dept_none") for g in departments],
            values=[g.counts.completion_rate or 0 for g in departments],
            counts=[f"{g.counts.completed}/{g.counts.active}" for g in departments],
            axis_label=t("axis_rate")))
    series = data.series
    if series is not None and series.active_total:
        days = series.days()
        charts.append(ChartSpec(
            key="burnup", kind="burnup", title=t("chart_burnup"), days=days,
            lines={t("burnup_completed"): [float(v) for v in series.cumulative("completed")],
                   t("burnup_planned"): [float(v) for v in series.cumulative("planned")],
                   t("burnup_ideal"): series.ideal()},
            today=data.today if series.start <= data.today <= series.end else None,
            axis_label=t("axis_tasks")))
    return charts


def _changes(data: ReportInput, measures: list[MeasureView], t, lang: str) -> list:
    added = [m for m in measures if m.added]
    cancelled = [m for m in measures if m.state == "cancelled"]
    titles = {task.id: first_line(task.title) for task in data.tasks}
    labels = {m.task_id: f"{m.label}{m.title}" for m in measures}
    moved: dict[int, list] = {}
    revised = set()
    for event in data.events:
        change = (event.changes or {}).get("due_date")
        if change and len(change) == 2 and change[0] and change[1] and change[0] != change[1]:
            if event.task_id in moved:
                moved[event.task_id][1] = change[1]
            else:
                moved[event.task_id] = [change[0], change[1]]
        if event.kind == "plan_revised":
            revised.add(event.task_id)
    moved = {k: v for k, v in moved.items() if v[0] != v[1]}
    blocks: list = [Heading(1, t("changes"), "changes")]
    if not (added or cancelled or moved or revised):
        blocks.append(Paragraph(t("changes_none")))
        return blocks
    if added:
        blocks.append(ItemList(t("added", n=len(added)), [
            Item(f"{m.path}{m.title}" if m.path and not m.path.endswith(m.label or "\0")
                 else f"{m.label}{m.title}",
                 _with_period(t("added_item", day=fmt_date(m.created_at.date(), lang)), t),
                 "added") for m in added]))
    if cancelled:
        blocks.append(ItemList(t("cancelled", n=len(cancelled)), [
            Item(f"{m.label}{m.title}",
                 _with_period(t("reason", reason=(m.reason or t("no_reason")).rstrip("。.")), t),
                 "cancelled") for m in cancelled]))
    if moved:
        items = []
        for task_id, (old, new) in moved.items():
            items.append(Item(labels.get(task_id) or titles.get(task_id, ""),
                              _with_period(t("moved_item", old=_iso_date(old, lang),
                                             new=_iso_date(new, lang)), t), "moved"))
        blocks.append(ItemList(t("moved", n=len(moved)), items))
    if revised:
        blocks.append(Paragraph(t("revised", n=len(revised))))
    return blocks


def _iso_date(value: str, lang: str) -> str:
    try:
        return fmt_date(date.fromisoformat(str(value)[:10]), lang)
    except ValueError:
        return str(value)


def _pp(current: float | None, previous: float | None, t) -> str:
    if current is None or previous is None:
        return t("not_comparable")
    points = round((current - previous) * 100, 1)
    text = f"{abs(points):.1f}".removesuffix(".0")
    if points > 0:
        return t("up", pp=text)
    if points < 0:
        return t("down", pp=text)
    return t("same")


def _comparison(data: ReportInput, t) -> list:
    prev = data.previous
    if prev is None or not prev.counts.total:
        return []
    p, c = prev.counts, data.totals
    text = t("comparison_text", previous=prev.term_name, plan=prev.plan_title, tasks=p.active,
             rate=fmt_rate(p.completion_rate), on_time=fmt_rate(p.on_time_rate),
             cur_rate=fmt_rate(c.completion_rate),
             rate_change=_pp(c.completion_rate, p.completion_rate, t),
             cur_on_time=fmt_rate(c.on_time_rate),
             on_time_change=_pp(c.on_time_rate, p.on_time_rate, t))
    table = Table([t("col_term"), t("col_tasks"), t("col_completed"), t("col_rate"),
                   t("col_on_time"), t("col_overdue")],
                  [[prev.term_name, str(p.active), str(p.completed), fmt_rate(p.completion_rate),
                    fmt_rate(p.on_time_rate), str(p.overdue)],
                   [data.term_name or "", str(c.active), str(c.completed),
                    fmt_rate(c.completion_rate), fmt_rate(c.on_time_rate), str(c.overdue)]],
                  numeric=(1, 2, 3, 4, 5))
    return [Heading(1, t("comparison"), "comparison"), Paragraph(text), table]


def _problems(data: ReportInput, measures: list[MeasureView], t, lang: str) -> list:
    c = data.totals
    sep, end = t("name_sep"), t("sentence_end")
    blocked = [m for m in measures if m.state == "blocked"]
    overdue = [m for m in measures if m.overdue_days and m.state not in ("blocked", "cancelled")]
    done_without_evidence = [m for m in measures if m.state == "done" and not m.evidence]
    problems: list[Item] = []
    if blocked:
        reasons = [f"{m.label}{m.title}：{(m.reason or t('no_reason')).rstrip('。.')}"
                   if lang.startswith("zh") else f"{m.title}: {m.reason or t('no_reason')}"
                   for m in blocked[:5]]
        problems.append(Item(t("problem_blocked", n=len(blocked)),
                             _with_period(t("list_sep").join(reasons), t), "blocked"))
    if c.overdue:
        by_dept: dict[str, int] = defaultdict(int)
        for m in measures:
            if m.overdue_days and m.state != "cancelled":
                by_dept[m.department or t("dept_none")] += 1
        worst = sorted(by_dept.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        text = (t("problem_overdue", n=c.overdue, departments=sep.join(d for d, _ in worst))
                if worst else t("problem_overdue_plain", n=c.overdue))
        problems.append(Item(text + end, "", "overdue"))
    if c.late:
        problems.append(Item(t("problem_late", n=c.late,
                               days=f"{(c.average_delay_days or 0):.1f}") + end, "", "late"))
    if c.awaiting_acceptance:
        problems.append(Item(t("problem_awaiting", n=c.awaiting_acceptance) + end, "", "awaiting"))
    if done_without_evidence:
        problems.append(Item(t("problem_no_evidence", n=len(done_without_evidence)) + end, "",
                             "evidence"))
    blocks: list = [Heading(1, t("problems"), "problems")]
    if not problems:
        blocks.append(Paragraph(t("problems_none")))
        blocks.append(Paragraph(t("next_keep")))
        return blocks
    blocks.append(ItemList(t("problems_title"), problems))
    steps: list[Item] = []
    for m in (blocked + overdue)[:NEXT_STEPS_LIMIT]:
        what = t("next_blocked") if m.state == "blocked" else t("next_overdue")
        steps.append(Item(f"{m.label}{m.title}", _with_period(
            t("lead", who=_who(m, t)) + t("list_sep") + what, t), m.state))
    rest = len(blocked + overdue) - NEXT_STEPS_LIMIT
    if rest > 0:
        steps.append(Item(_with_period(t("next_more", n=rest), t), "", "more"))
    if c.awaiting_acceptance:
        steps.append(Item(_with_period(t("next_accept", n=c.awaiting_acceptance), t), "", ""))
    if done_without_evidence:
        steps.append(Item(_with_period(t("next_evidence"), t), "", ""))
    if not steps:
        steps.append(Item(t("next_keep"), "", ""))
    blocks.append(ItemList(t("next_title"), steps))
    return blocks


def _ledger(measures: list[MeasureView], t, lang: str) -> Table:
    rows = []
    for number, m in enumerate(measures, start=1):
        status = _status_text(m, t)
        if m.recurring and m.active_count > 1:
            status += f"（{m.done_count}/{m.active_count}）" if lang.startswith("zh") \
                else f" ({m.done_count}/{m.active_count})"
        latest = m.reason if m.state in ("blocked", "cancelled") and m.reason else (
            m.notes[-1] if m.notes else "")
        rows.append([str(number), m.path, m.title, m.department, m.owner,
                     m.due.isoformat() if m.due else "", status,
                     f"{m.progress}%", m.completed_on.isoformat() if m.completed_on else "",
                     str(m.evidence), m.target, m.actual, latest])
    return Table([t("col_no"), t("col_path"), t("col_measure"), t("col_department"),
                  t("col_owner"), t("col_due"), t("col_status"), t("col_progress"),
                  t("col_done_on"), t("col_evidence"), t("col_target"), t("col_actual"),
                  t("col_note")], rows, numeric=(0, 7, 9))
