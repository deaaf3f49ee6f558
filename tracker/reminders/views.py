"""Notification pages: the bell and inbox, preferences; the admin's rules, robots, outbox."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker import policy
from tracker.crypto import is_unreadable
from tracker.errors import show_form_error
from tracker.extensions import db
from tracker.models import (
    GroupChannel,
    Notification,
    NotificationStatus,
    Role,
)
from tracker.reminders import render, services
from tracker.reminders.channels.webhooks import mask_url
from tracker.reminders.forms import ChannelForm, PreferencesForm, RulesForm
from tracker.services import ServiceError

bp = Blueprint("reminders", __name__)

OUTBOX_FILTERS = ("failed", "pending", "sent", "folded", "cancelled", "all")


@bp.before_request
@login_required
def _login() -> None:
    return None


@bp.app_context_processor
def _bell() -> dict:
    def unread_notifications() -> int:
        # One indexed count per page, only when the template asks for it.
        if "unread_notifications" not in g:
            g.unread_notifications = services.unread_count(current_user) \
                if current_user.is_authenticated else 0
        return g.unread_notifications
    return {"unread_notifications": unread_notifications}




# --- everybody -------------------------------------------------------------------------

@bp.route("/")
def inbox():
    page = db.paginate(services.inbox(current_user), per_page=30, error_out=False)
    entries = [{"n": n, "headline": render.headline(n)} for n in page.items]
    return render_template("reminders/inbox.html", page=page, entries=entries)


@bp.route("/<int:notification_id>/open", methods=["POST"])
def open_notification(notification_id: int):
    n = db.session.get(Notification, notification_id)
    if n is None or n.recipient_user_id != current_user.id:
        abort(404)
    services.mark_read(current_user, [n.id])
    task_id = (n.payload or {}).get("task_id")
    db.session.commit()
    if task_id:
        return redirect(url_for("tasks.detail", task_id=task_id))
    if n.kind == "digest":
        return redirect(url_for("tasks.mine"))
    return redirect(url_for(".inbox"))


@bp.route("/read", methods=["POST"])
def mark_all_read():
    count = services.mark_read(current_user)
    db.session.commit()
    flash(_("%(n)d notifications marked read.", n=count), "info")
    return redirect(url_for(".inbox"))


@bp.route("/preferences", methods=["GET", "POST"])
def preferences():
    pref = services.preferences_for(current_user.id)
    form = PreferencesForm(obj=pref)
    if form.validate_on_submit():
        services.save_preferences(current_user, email=form.email.data, in_app=form.in_app.data,
                                  daily_digest=form.daily_digest.data,
                                  weekly_digest=form.weekly_digest.data)
        db.session.commit()
        flash(_("Your notification settings are saved."), "success")
        return redirect(url_for(".preferences"))
    return render_template("reminders/preferences.html", form=form,
                           is_leader=current_user.role in (Role.leader, Role.admin))


# --- administration ------------------------------------------------------------------

def _admin() -> None:
    policy.require(policy.can_administer(current_user))


@bp.route("/admin", methods=["GET", "POST"])
def admin_rules():
    _admin()
    settings = services.settings_for(current_user.organization_id)
    form = RulesForm(obj=settings)
    if form.validate_on_submit():
        try:
            services.save_settings(
                current_user.organization, current_user, days_before=form.days_before.data or "",
                on_due=form.on_due.data, overdue_every_days=form.overdue_every_days.data,
                escalate_after_days=form.escalate_after_days.data,
                quiet_start=form.quiet_start.data, quiet_end=form.quiet_end.data,
                daily_cap=form.daily_cap.data, digest_time=form.digest_time.data,
                weekly_time=form.weekly_time.data,
                digest_days_ahead=form.digest_days_ahead.data)
        except ServiceError as error:
            db.session.rollback()
            show_form_error(form, error)
        else:
            db.session.commit()
            flash(_("Reminder rules saved."), "success")
            return redirect(url_for(".admin_rules"))
    return render_template("reminders/admin_rules.html", form=form,
                           counts=services.outbox_counts(current_user.organization_id))


@bp.route("/admin/channels")
def admin_channels():
    _admin()
    channels = db.session.execute(
        select(GroupChannel).where(GroupChannel.organization_id == current_user.organization_id)
        .options(selectinload(GroupChannel.department)).order_by(GroupChannel.id)).scalars().all()
    return _no_store(render_template("reminders/admin_channels.html", channels=channels,
                                     mask_url=mask_url))


def _no_store(page: str):
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"  # robot pages: set-up of credentials
    return response


@bp.route("/admin/channels/new", methods=["GET", "POST"])
@bp.route("/admin/channels/<int:channel_id>", methods=["GET", "POST"])
def admin_channel(channel_id: int | None = None):
    _admin()
    channel = policy.get_in_org_or_404(GroupChannel, channel_id, current_user) \
        if channel_id else None
    # The stored URL (it carries the access token) and secret never go into the form.
    form = ChannelForm(data=None if channel is None else {
        "kind": channel.kind.value, "name": channel.name,
        "department_id": channel.department_id or 0, "enabled": channel.enabled})
    form.department_id.choices = [(0, "—")] + [
        (d.id, d.name) for d in current_user.organization.departments]
    if form.validate_on_submit():
        try:
            channel = services.save_channel(
                current_user.organization, channel, current_user, kind=form.kind.data,
                name=form.name.data, webhook_url=form.webhook_url.data, secret=form.secret.data,
                department_id=form.department_id.data or None, enabled=form.enabled.data)
        except ServiceError as error:
            db.session.rollback()
            show_form_error(form, error)
        else:
            db.session.commit()
            flash(_("Robot saved. Send a test message to check it."), "success")
            return redirect(url_for(".admin_channel", channel_id=channel.id))
    if form.webhook_url.data:
        # Shown again, the submitted URL (with its token) would sit in the page's HTML.
        form.webhook_url.data = ""
        form.webhook_url.errors = list(form.webhook_url.errors) + [
            _("For safety the URL you entered is not shown again: paste it again.")]
    return _no_store(render_template("reminders/admin_channel.html", form=form,
                                     channel=channel, mask_url=mask_url,
                                     unreadable=is_unreadable))


@bp.route("/admin/channels/<int:channel_id>/test", methods=["POST"])
def admin_channel_test(channel_id: int):
    _admin()
    channel = policy.get_in_org_or_404(GroupChannel, channel_id, current_user)
    error = services.send_test_message(channel, current_user)
    db.session.commit()
    if error:
        flash(_("The test message was not delivered: %(error)s", error=error), "danger")
    else:
        flash(_("Test message sent."), "success")
    return redirect(url_for(".admin_channel", channel_id=channel.id))


@bp.route("/admin/channels/<int:channel_id>/enabled", methods=["POST"])
def admin_channel_enabled(channel_id: int):
    _admin()
    channel = policy.get_in_org_or_404(GroupChannel, channel_id, current_user)
    enabled = request.form.get("enabled") == "1"
    services.set_channel_enabled(channel, enabled, current_user)
    db.session.commit()
    if not enabled:
        flash(_("Robot disabled: nothing is sent to it."), "info")
    elif channel.credentials_unreadable:
        flash(_("Robot enabled. Its stored credentials cannot be decrypted: nothing is sent "
                "to it until you enter them again."), "warning")
    else:
        flash(_("Robot enabled."), "success")
    return redirect(url_for(".admin_channel", channel_id=channel.id))


@bp.route("/admin/channels/<int:channel_id>/delete", methods=["POST"])
def admin_channel_delete(channel_id: int):
    _admin()
    channel = policy.get_in_org_or_404(GroupChannel, channel_id, current_user)
    services.delete_channel(channel, current_user)
    db.session.commit()
    flash(_("Robot removed."), "info")
    return redirect(url_for(".admin_channels"))


@bp.route("/admin/outbox")
def admin_outbox():
    _admin()
    show = request.args.get("show", "failed")
    if show not in OUTBOX_FILTERS:
        show = "failed"
    stmt = (select(Notification)
            .where(Notification.organization_id == current_user.organization_id)
            .options(selectinload(Notification.recipient),
                     selectinload(Notification.group_channel))
            .order_by(Notification.id.desc()))
    if show != "all":
        stmt = stmt.where(Notification.status == NotificationStatus(show))
    page = db.paginate(stmt, per_page=50, error_out=False)
    return render_template("reminders/admin_outbox.html", page=page, show=show,
                           filters=OUTBOX_FILTERS,
                           counts=services.outbox_counts(current_user.organization_id))


@bp.route("/admin/outbox/<int:notification_id>/retry", methods=["POST"])
def admin_retry(notification_id: int):
    _admin()
    n = policy.get_in_org_or_404(Notification, notification_id, current_user)
    try:
        services.retry(n)
    except ServiceError as error:
        flash(error.message, "danger")
    else:
        db.session.commit()
        flash(_("It will be sent again at the next sweep (within a few minutes)."), "success")
    return redirect(url_for(".admin_outbox", show=request.args.get("show", "failed")))


@bp.route("/admin/outbox/retry-failed", methods=["POST"])
def admin_retry_failed():
    _admin()
    count = services.retry_all_failed(current_user.organization_id)
    db.session.commit()
    flash(_("%(n)d notifications will be sent again at the next sweep.", n=count), "success")
    return redirect(url_for(".admin_outbox"))
