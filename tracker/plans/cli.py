"""``flask plan parse FILE`` — parse a plan file and print its tree (writes nothing).

The output is in the app's language (BABEL_DEFAULT_LOCALE) unless ``--lang`` says
otherwise; ``--json`` keeps the parse tree's stable shape and adds the reading notes in
that language.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _

from tracker.inputs import whole_number
from tracker.plans.hints import TermCalendar
from tracker.plans.notes import note_dict, note_text
from tracker.plans.parsing import Node, ParsedPlan
from tracker.plans.readers import DEFAULT_MAX_BYTES, PlanReadError, load_plan

plan_cli = AppGroup("plan", help="Work-plan tools.")

_DATE = click.DateTime(formats=["%Y-%m-%d"])
LANGS = {"zh": "zh_CN", "en": "en"}


def _calendar(start: datetime | None, mid: datetime | None,
              end: datetime | None) -> TermCalendar | None:
    if start is None and end is None and mid is None:
        return None
    if start is None or end is None:
        raise click.ClickException(_("--term-start and --term-end must be given together."))
    if end < start:
        raise click.ClickException(_("--term-end is before --term-start."))
    try:
        return TermCalendar(start=start.date(), end=end.date(), mid=mid.date() if mid else None)
    except ValueError as error:
        raise click.ClickException(str(error)) from error


def outline(plan: ParsedPlan) -> str:
    """A readable indented outline of the parse, in the current locale."""
    lines = [_("Title: %(title)s", title=plan.title or "—")]
    if plan.preamble:
        lines.append(_("Preamble: %(text)s", text=_short(plan.preamble)))

    def walk(nodes: list[Node]) -> None:
        for node in nodes:
            marker = "•" if node.kind == "measure" else "▸"
            number = node.label or f"[{node.number}]"
            where = _("(line %(line)d)", line=node.line)
            lines.append(f"{'  ' * (node.level - 1)}{marker} {number} {node.heading}"
                         f"  {where}{_hint_summary(node)}")
            walk(node.children)

    walk(plan.nodes)
    if plan.trailer:
        lines.append(_("Trailer: %(text)s", text=_short(plan.trailer)))
    lines.append(_("Measures: %(measures)d; noise lines: %(noise)d",
                   measures=plan.measure_count, noise=len(plan.noise)))
    lines.extend(_("Note: %(note)s", note=note_text(warning)) for warning in plan.warnings)
    return "\n".join(lines)


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width] + "…"


def _hint_summary(node: Node) -> str:
    if node.kind != "measure":
        return ""
    hints = node.hints.to_dict()
    parts = []
    if hints["owners"]:
        parts.append(_("owner %(names)s", names="/".join(hints["owners"])))
    if hints["time_phrase"]:
        due = f" → {hints['due']}" if hints["due"] else ""
        parts.append(_("time %(phrase)s", phrase=hints["time_phrase"]) + due)
    if hints["target"]:
        parts.append(_("target %(target)s", target=_short(hints["target"], 30)))
    return ("  [" + "; ".join(parts) + "]") if parts else ""


@plan_cli.command("parse")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--term-start", type=_DATE, help="Term start date (YYYY-MM-DD).")
@click.option("--term-mid", type=_DATE, help="Mid-term date (YYYY-MM-DD).")
@click.option("--term-end", type=_DATE, help="Term end date (YYYY-MM-DD).")
@click.option("--department", "departments", multiple=True,
              help="A department name of the organisation (repeatable), matched first.")
@click.option("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, show_default=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print the parse tree as JSON, with the notes in the chosen language.")
@click.option("--lang", type=click.Choice(sorted(LANGS)),
              help="Language of the output (default: the app's BABEL_DEFAULT_LOCALE).")
def parse_command(file: Path, term_start: datetime | None, term_mid: datetime | None,
                  term_end: datetime | None, departments: tuple[str, ...], max_bytes: int,
                  as_json: bool, lang: str | None) -> None:
    """Parse FILE (.txt, .md, .docx, .xlsx) and print the plan tree."""
    with force_locale(LANGS[lang] if lang else current_app.config["BABEL_DEFAULT_LOCALE"]):
        calendar = _calendar(term_start, term_mid, term_end)
        try:
            data = file.read_bytes()
        except OSError as error:
            raise click.ClickException(_("Cannot read %(file)s: %(error)s.", file=file,
                                         error=error.strerror or error)) from error
        try:
            plan = load_plan(data, file.name, calendar=calendar, departments=departments,
                             max_bytes=max_bytes)
        except PlanReadError as error:
            raise click.ClickException(_(error.message, **error.params)) from error
        if as_json:
            result = plan.to_dict()
            result["notes"] = [note_dict(warning) for warning in plan.warnings]
            click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=_json_default))
        else:
            click.echo(outline(plan))


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@plan_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--org", "org_ref", required=True, help="Organisation id or exact name.")
@click.option("--term", "term_ref", help="Term id or exact name (resolves deadline phrases).")
@click.option("--title", help="Plan title (default: the document's own).")
@click.option("--revision-of", type=int, help="Id of the plan this file revises.")
@click.option("--dry-run", is_flag=True, help="Parse and report; write nothing.")
def import_command(file: Path, org_ref: str, term_ref: str | None, title: str | None,
                   revision_of: int | None, dry_run: bool) -> None:
    """Import a plan file as a plan with one task per measure (all or nothing)."""
    from sqlalchemy import or_, select

    from tracker.extensions import db
    from tracker.models import Organization, Plan, Term
    from tracker.plans import importing

    org = db.session.execute(select(Organization).where(or_(
        Organization.id == (whole_number(org_ref) or -1),
        Organization.name == org_ref))).scalar_one_or_none()
    if org is None:
        raise click.ClickException(f"no organisation {org_ref!r}")
    term = None
    if term_ref:
        term = db.session.execute(select(Term).where(Term.organization_id == org.id, or_(
            Term.id == (whole_number(term_ref) or -1),
            Term.name == term_ref))).scalar_one_or_none()
        if term is None:
            raise click.ClickException(f"no term {term_ref!r} in {org.name}")
    calendar = TermCalendar(start=term.start_date, end=term.end_date, mid=term.mid_date) \
        if term else None
    data = file.read_bytes()
    try:
        parsed = load_plan(data, file.name, calendar=calendar,
                           departments=[d.name for d in org.departments]).to_dict()
    except PlanReadError as error:
        raise click.ClickException(str(error)) from error
    measures = sum(1 for _ in importing.iter_measures(parsed["nodes"]))
    for warning in parsed.get("warnings") or []:
        click.echo(_("Note: %(note)s", note=note_text(warning)), err=True)
    source_text = data.decode("utf-8", "replace") if file.suffix.lower() in (".txt", ".md") \
        else ""
    if revision_of:
        plan = db.session.get(Plan, revision_of)
        if plan is None or plan.organization_id != org.id:
            raise click.ClickException(f"no plan {revision_of} in {org.name}")
        matching, _nodes = importing.plan_revision(plan, parsed["nodes"])
        click.echo(f"revision of plan {plan.id}: {len(matching.matched)} kept, "
                   f"{len(matching.added)} added, {len(matching.removed)} removed")
        if dry_run:
            return
        importing.revise_plan(plan, parsed, actor=None, source_filename=file.name,
                              source_text=source_text)
    else:
        click.echo(f"{parsed.get('title') or file.name}: {measures} measures")
        if dry_run:
            return
        plan = importing.create_plan(org, term, parsed, actor=None, title=title,
                                     source_filename=file.name, source_text=source_text)
    db.session.commit()
    click.echo(f"plan {plan.id} saved")
