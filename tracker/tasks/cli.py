"""``flask task …``: task changes for scripts, thin wrappers over the task services."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from tracker import policy
from tracker.extensions import db
from tracker.models import Organization, User
from tracker.services import ServiceError
from tracker.tasks import assignment_csv, services

task_cli = AppGroup("task", help="Task changes for scripts (bulk assignment).")


@task_cli.command("assign")
@click.option("--csv", "csv_file", type=click.File("rb"), required=True,
              help="CSV with a header row: task,owner,department,due (Chinese names work).")
@click.option("--org", "org_id", type=int, required=True, help="Organisation id.")
@click.option("--actor", "actor_email", default=None,
              help="E-mail of the leader or admin named in the history (default: none).")
@click.option("--note", default="", help="Note recorded with every change.")
@click.option("--dry-run", is_flag=True, help="Check the file and report; change nothing.")
def assign(csv_file, org_id: int, actor_email: str | None, note: str, dry_run: bool) -> None:
    """Assign lead owners, departments and due dates from a CSV file, all or nothing.

    Every line is checked first; if any line is wrong, each problem is listed with
    its line number and nothing changes. An empty cell leaves that field as it is.
    """
    org = db.session.get(Organization, org_id)
    if org is None:
        raise click.ClickException(f"no organisation {org_id}")
    actor = None
    if actor_email:
        actor = db.session.execute(select(User).where(
            User.email == actor_email, User.organization_id == org.id)).scalar_one_or_none()
        if actor is None or not actor.active or not policy.can_assign(actor):
            raise click.ClickException(f"{actor_email} is not an active leader or admin of "
                                       f"{org.name}")
    try:
        text = assignment_csv.decode(csv_file.read())
    except UnicodeDecodeError:
        raise click.ClickException("the file is neither UTF-8 nor GB18030 text") from None
    lines, errors = assignment_csv.parse(text)
    assignments, lookup_errors = assignment_csv.resolve(org, lines) if lines else ([], [])
    errors += lookup_errors
    if errors:
        db.session.rollback()
        for error in errors:
            click.echo(error, err=True)
        raise click.ClickException(f"{len(errors)} problem(s) found; nothing was changed")
    changed = 0
    try:
        for item in assignments:
            changed += services.assign(
                [item.task], actor,
                lead_user=item.lead_user if item.lead_user is not None else False,
                lead_department=(item.lead_department if item.lead_department is not None
                                 else False),
                due_date=item.due, note=note)
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(f"line {item.line}: {error.message}; "
                                   "nothing was changed") from None
    if dry_run:
        db.session.rollback()
        click.echo(f"dry run: {changed} of {len(assignments)} task(s) would change; "
                   "nothing was changed")
        return
    db.session.commit()
    click.echo(f"assigned {changed} task(s); {len(assignments) - changed} already as listed")
