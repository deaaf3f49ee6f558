"""Login, logout, own password and language, API tokens and the calendar-feed URL."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from tracker.accounts import tokens
from tracker.accounts.auth import authenticate
from tracker.accounts.forms import ChangePasswordForm, LoginForm, PreferencesForm
from tracker.extensions import db, limiter
from tracker.i18n import normalise_locale
from tracker.services import ServiceError

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//"):
            return target
    return url_for("main.home")


def _login_identifier() -> str:
    return "login:" + (request.form.get("identifier") or "").strip().lower()[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"], methods=["POST"],
               key_func=_login_identifier)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.identifier.data, form.password.data)
        if user is None:
            flash(_("Wrong e-mail/mobile number or password, or the account is deactivated."),
                  "danger")
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/", methods=["GET", "POST"])
@login_required
def profile():
    password_form = ChangePasswordForm(prefix="pw")
    prefs_form = PreferencesForm(prefix="prefs", locale=current_user.locale or "zh_CN")
    if password_form.submit.data and password_form.validate_on_submit():
        if not current_user.check_password(password_form.current.data):
            password_form.current.errors.append(_("The current password is wrong."))
        else:
            current_user.set_password(password_form.new.data)
            db.session.commit()
            flash(_("Your password has been changed."), "success")
            return redirect(url_for(".profile"))
    elif prefs_form.submit.data and prefs_form.validate_on_submit():
        current_user.locale = prefs_form.locale.data
        db.session.commit()
        flash(_("Preferences saved."), "success")
        return redirect(url_for(".profile"))
    return _profile_page(password_form=password_form, prefs_form=prefs_form)


def _profile_page(*, password_form=None, prefs_form=None, token_form=None,
                  new_token: str | None = None):
    page = render_template(
        "accounts/profile.html",
        password_form=password_form or ChangePasswordForm(prefix="pw", formdata=None),
        prefs_form=prefs_form or PreferencesForm(prefix="prefs", formdata=None,
                                                 locale=current_user.locale or "zh_CN"),
        token_form=token_form or tokens.ApiTokenForm(prefix="token", formdata=None),
        api_tokens=tokens.active_tokens(current_user), new_token=new_token,
        calendar_url=(url_for("feeds.calendar", token=current_user.calendar_token,
                              _external=True) if current_user.calendar_token else None))
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"  # the page may show a secret
    return response


@bp.route("/tokens", methods=["POST"])
@login_required
def create_token():
    form = tokens.ApiTokenForm(prefix="token")
    if form.validate_on_submit():
        try:
            plain = tokens.create_token(current_user, form.name.data)
        except ServiceError as error:
            db.session.rollback()
            form.name.errors.append(error.message)
        else:
            db.session.commit()
            # Shown in this response only: never flashed (the session cookie is readable).
            return _profile_page(new_token=plain)
    return _profile_page(token_form=form), 400


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    token = tokens.revoke_token(current_user, token_id)
    if token is None:
        abort(404)
    db.session.commit()
    flash(_("The token “%(name)s” is revoked; programs using it are refused from now on.",
            name=token.name), "success")
    return redirect(url_for(".profile"))


@bp.route("/calendar", methods=["POST"])
@login_required
def replace_calendar():
    had_one = current_user.calendar_token is not None
    tokens.replace_calendar_token(current_user)
    db.session.commit()
    flash(_("A new calendar link is ready; the old one no longer works.") if had_one
          else _("Your calendar link is ready."), "success")
    return redirect(url_for(".profile") + "#calendar")


@bp.route("/calendar/off", methods=["POST"])
@login_required
def remove_calendar():
    tokens.remove_calendar_token(current_user)
    db.session.commit()
    flash(_("The calendar link is turned off."), "success")
    return redirect(url_for(".profile") + "#calendar")


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    """The switch in the navigation bar: remembered per user (or in the session)."""
    locale = normalise_locale(code)
    if locale:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))
