"""Login, logout, own password and language."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from tracker.accounts.auth import authenticate
from tracker.accounts.forms import ChangePasswordForm, LoginForm, PreferencesForm
from tracker.extensions import db
from tracker.i18n import normalise_locale

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//"):
            return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
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
    return render_template("accounts/profile.html", password_form=password_form,
                           prefs_form=prefs_form)


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
