"""``flask tracker …`` commands: thin wrappers over services."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from tracker.extensions import db
from tracker.i18n import local_today
from tracker.models import Organization, OrgKind, Role, User
from tracker.services import ServiceError

tracker_cli = AppGroup("tracker", help="Plan Tracker administration.")


@tracker_cli.command("create-admin")
@click.option("--org", "org_name", required=True, help="Organisation name (created if new).")
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), default="school")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--timezone", "tz", default=None, help="Default: the TIMEZONE setting.")
def create_admin(org_name: str, kind: str, name: str, email: str, password: str,
                 tz: str | None) -> None:
    """Create the first organisation and its administrator."""
    from tracker.admin.services import save_user

    if len(password) < current_app.config["PASSWORD_MIN_LENGTH"]:
        raise click.ClickException("the password must have at least 8 characters")
    org = db.session.execute(select(Organization).where(
        Organization.name == org_name)).scalar_one_or_none()
    if org is None:
        org = Organization(name=org_name, kind=OrgKind(kind),
                           timezone=tz or current_app.config["TIMEZONE"])
        db.session.add(org)
        db.session.flush()
    try:
        user = save_user(org, name=name, email=email, phone=None, role=Role.admin.value,
                         department_ids=[], password=password)
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"created administrator {user.email} of {org.name} (organisation id {org.id})")


@tracker_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has users.")
def demo(if_empty: bool) -> None:
    """Load the demo school (accounts *@demo.school, password demo1234)."""
    from tracker.demo import DEMO_PASSWORD, create_demo, demo_exists

    if if_empty and db.session.execute(select(User.id).limit(1)).first():
        click.echo("database already has users; demo not loaded")
        return
    if demo_exists():
        raise click.ClickException("the demo school already exists")
    org = create_demo(local_today(current_app.config["TIMEZONE"]))
    db.session.commit()
    click.echo(f"demo school {org.name!r} created; log in as admin@demo.school, "
               f"leader@demo.school or staff@demo.school with password {DEMO_PASSWORD}")


@tracker_cli.command("scheduler")
def scheduler() -> None:
    """Run the scheduler in this process (production: exactly one such process).

    SIGTERM or SIGINT stops it after the running job (at most SCHEDULER_STOP_SECONDS)."""
    from tracker.scheduler import build_scheduler, run_until_stopped

    app = current_app._get_current_object()
    sched = build_scheduler(app)
    click.echo(f"scheduler running with jobs: {', '.join(j.id for j in sched.get_jobs())}")
    run_until_stopped(sched, app.config["SCHEDULER_STOP_SECONDS"])


@tracker_cli.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--no-scheduler", is_flag=True)
def serve(host: str, port: int, no_scheduler: bool) -> None:
    """Development server hosting the scheduler once (no reloader, so no second copy)."""
    from tracker.scheduler import build_scheduler

    app = current_app._get_current_object()
    if not no_scheduler and app.config["SCHEDULER_ENABLED"]:
        build_scheduler(app).start()
        click.echo("scheduler started in this process")
    click.echo(f"Plan Tracker on http://{host}:{port}/  (demo logins: admin@demo.school, "
               "leader@demo.school, staff@demo.school / demo1234)")
    # Flask ignores app.run() under the flask command; serve with Werkzeug directly.
    from werkzeug.serving import run_simple

    run_simple(host, port, app, use_reloader=False, threaded=True)


@tracker_cli.command("remind")
@click.option("--now", "now_text", default=None, metavar="ISO-DATETIME",
              help="Pretend it is this moment (e.g. 2024-10-08T07:05+08:00; without a zone: "
                   "the TIMEZONE setting). Replays a day of the term.")
@click.option("--dry-run", is_flag=True,
              help="Show what would be written and sent; change nothing.")
def remind(now_text: str | None, dry_run: bool) -> None:
    """Run one reminder sweep (reminders, digests, then the outbox) and print the outcome."""
    from tracker.reminders.cli import parse_now, print_result
    from tracker.reminders.jobs import sweep

    now = parse_now(now_text, current_app.config["TIMEZONE"])
    print_result(sweep(now, dry_run=dry_run), dry_run=dry_run)


@tracker_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Write the database and the evidence files to PATH (.tar.gz)."""
    from tracker import backup

    try:
        manifest = backup.backup(db.engine, db.session,
                                 Path(current_app.config["UPLOAD_FOLDER"]), path)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    figures = ", ".join(f"{k} {v}" for k, v in manifest["counts"].items())
    click.echo(f"backup written to {path} ({figures})")


@tracker_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def restore_command(path: Path) -> None:
    """Restore a backup into an empty database (and its evidence files)."""
    from tracker import backup

    db.session.remove()
    try:
        manifest = backup.restore(db.engine, Path(current_app.config["UPLOAD_FOLDER"]), path)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    now = backup.counts(db.session)
    if now != manifest["counts"]:
        raise click.ClickException(f"restored counts {now} differ from the backup's "
                                   f"{manifest['counts']}")
    click.echo(f"restored {path}: " + ", ".join(f"{k} {v}" for k, v in now.items()))
    _warn_unreadable_robots()


def _warn_unreadable_robots() -> None:
    from tracker.reminders.services import unreadable_channels

    for channel in unreadable_channels():
        click.echo(f"warning: robot {channel.id} ({channel.name}, organisation "
                   f"{channel.organization_id}): its credentials cannot be decrypted with "
                   "this DATA_ENCRYPTION_KEY / SECRET_KEY; enter them again on its page",
                   err=True)


@tracker_cli.command("encrypt-secrets")
def encrypt_secrets() -> None:
    """Encrypt every robot's webhook URL and secret with the current key.

    Encrypts what older versions stored in plain text, and finishes a key rotation
    (afterwards the old keys can be dropped). Safe to run any time."""
    from tracker.reminders.services import encrypt_stored_credentials

    report = encrypt_stored_credentials()
    db.session.commit()
    click.echo(f"robots: {report.channels}, written with the current key: "
               f"{report.channels - len(report.unreadable)} (of which {report.plain} were "
               f"in plain text), unreadable: {len(report.unreadable)}")
    _warn_unreadable_robots()


@tracker_cli.command("report")
@click.option("--plan", "plan_id", type=int, default=None, help="The plan to report on.")
@click.option("--district", "district_id", type=int, default=None,
              help="A district organisation: the report on its schools.")
@click.option("--term", "term_id", type=int, default=None, help="District: the term (default: "
              "the current one).")
@click.option("--format", "formats", default="html,docx,pdf,xlsx", show_default=True)
@click.option("--lang", type=click.Choice(["zh_CN", "en"]), default="zh_CN", show_default=True)
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path))
def report_command(plan_id: int | None, district_id: int | None, term_id: int | None,
                   formats: str, lang: str, out_dir: Path) -> None:
    """Write a plan's term report (or a district's) to files in OUT."""
    from tracker.models import Plan
    from tracker.reports import services as reports

    if (plan_id is None) == (district_id is None):
        raise click.UsageError("give either --plan or --district")
    try:
        chosen = reports.parse_formats(formats)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--format") from None
    if plan_id is not None:
        plan = db.session.get(Plan, plan_id)
        if plan is None:
            raise click.ClickException(f"no plan with id {plan_id}")
        output = reports.build_school(plan, chosen, lang=lang)
    else:
        org = db.session.get(Organization, district_id)
        if org is None or org.kind != OrgKind.district:
            raise click.ClickException(f"no district with id {district_id}")
        output = reports.build_district(org, chosen, lang=lang, term_id=term_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = reports.safe_stem(output.document.filename_stem)
    for fmt, content in output.files.items():
        path = out_dir / f"{stem}.{fmt}"
        path.write_bytes(content)
        click.echo(f"{path} ({len(content) // 1024} kB)")
