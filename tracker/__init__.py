"""Plan Tracker: turns a written work plan into tracked work.

``create_app`` is a table of contents: it reads configuration and registers
extensions, blueprints, CLI commands and error handlers. It starts nothing
(no scheduler, no migrations, no network).
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from config import Config, config_from_env

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A configuration problem reported as one line at start-up."""


def create_app(config_class: type[Config] | None = None, instance_path: str | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=instance_path,
        instance_relative_config=True,
    )
    try:
        app.config.from_object(config_class or config_from_env())
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    configure_paths(app)
    configure_encryption(app)
    register_extensions(app)
    register_security(app)
    register_blueprints(app)
    register_cli(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    return app


def configure_paths(app: Flask) -> None:
    from tracker.database import check_database_url

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'tracker.sqlite'}")
    app.config["SQLALCHEMY_DATABASE_URI"] = check_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"])
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = str(Path(app.instance_path) / "uploads")
    # The development default and the example file's placeholder are public: sessions and
    # the encryption key derived from them would be too.
    if app.config.get("REQUIRE_SECRET_KEY") and (
            app.config["SECRET_KEY"].startswith("dev-only")
            or "change-me" in app.config["SECRET_KEY"]):
        raise ConfigError("SECRET_KEY must be set in production (a long random string)")


def configure_encryption(app: Flask) -> None:
    """The keyring for stored credentials (``EncryptedText`` columns) from the settings."""
    from tracker.crypto import Keyring

    try:
        app.extensions["keyring"] = Keyring.from_settings(
            app.config.get("DATA_ENCRYPTION_KEY"), app.config.get("DATA_ENCRYPTION_OLD_KEYS"),
            app.config["SECRET_KEY"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def register_extensions(app: Flask) -> None:
    from tracker import database
    from tracker.extensions import babel, bootstrap, csrf, db, login_manager, migrate
    from tracker.i18n import select_locale, select_timezone

    database.configure_engine_options(app)
    db.init_app(app)
    database.install_sqlite_hooks(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories=str(Path(__file__).parent / "translations"))
    bootstrap.init_app(app)
    login_manager.init_app(app)
    from tracker.accounts import auth  # noqa: F401  (registers the user loader)


def register_security(app: Flask) -> None:
    from tracker import security

    security.init_app(app)
    security.configure_logging(app)


def register_blueprints(app: Flask) -> None:
    from tracker.accounts.views import bp as accounts_bp
    from tracker.admin.views import bp as admin_bp
    from tracker.api import bp as api_bp
    from tracker.dashboard.views import bp as dashboard_bp
    from tracker.feeds.views import bp as feeds_bp
    from tracker.main.views import bp as main_bp
    from tracker.plans.views import bp as plans_bp
    from tracker.reminders.views import bp as reminders_bp
    from tracker.reports.views import bp as reports_bp
    from tracker.tasks.views import bp as tasks_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp, url_prefix="/account")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(plans_bp, url_prefix="/plans")
    app.register_blueprint(tasks_bp, url_prefix="/tasks")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(dashboard_bp, url_prefix="/dashboard")
    app.register_blueprint(feeds_bp, url_prefix="/feeds")
    app.register_blueprint(reminders_bp, url_prefix="/notifications")
    app.register_blueprint(reports_bp, url_prefix="/reports")


def register_cli(app: Flask) -> None:
    from tracker.cli import tracker_cli

    app.cli.add_command(tracker_cli)
    from tracker.generate_cli import generate

    tracker_cli.add_command(generate)
    from tracker.tasks.cli import task_cli

    app.cli.add_command(task_cli)
    try:
        from tracker.plans.cli import plan_cli
    except ImportError:  # parser not installed yet
        return
    app.cli.add_command(plan_cli)


def register_errorhandlers(app: Flask) -> None:
    from tracker.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from tracker import widgets
    from tracker.i18n import register_filters
    from tracker.tasks import labels

    register_filters(app)
    labels.register(app)
    widgets.register(app)
