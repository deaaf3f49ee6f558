"""Start-up configuration errors are one clear line, never a traceback."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracker import ConfigError, create_app
from tracker.database import check_database_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("url", ["nonsense", "mysql://x@y/z", "postgresql://:::/"])
def test_bad_database_urls_are_config_errors(url):
    with pytest.raises(ConfigError) as info:
        check_database_url(url)
    assert "DATABASE_URL" in str(info.value)


def test_postgres_urls_use_psycopg3():
    assert check_database_url("postgres://u@h/db").startswith("postgresql+psycopg://")


def _flask(env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "routes"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_malformed_database_url_at_startup_is_one_line():
    result = _flask({"DATABASE_URL": "this is not a url"})
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and "DATABASE_URL" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_non_numeric_setting_is_one_line():
    result = _flask({"MAIL_PORT": "twenty-five"})
    assert result.returncode != 0 and "MAIL_PORT" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("key", ["dev-only-insecure-key-change-me",
                                 "change-me-to-a-long-random-string"])  # deploy/*.env.example
def test_production_refuses_the_development_and_example_secret_keys(tmp_path, key):
    from config import ProductionConfig

    class Prod(ProductionConfig):
        SECRET_KEY = key
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'x.sqlite'}"

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(Prod, instance_path=str(tmp_path))


def test_reminder_sweep_interval_below_one_second_is_one_line():
    result = _flask({"REMINDER_SWEEP_SECONDS": "0"})
    assert result.returncode != 0 and "REMINDER_SWEEP_SECONDS" in result.stderr
    assert "Traceback" not in result.stderr


def test_reminder_sweep_runs_every_reminder_sweep_seconds(tmp_path):
    from datetime import timedelta

    from config import Config, TestingConfig
    from tracker.scheduler import build_scheduler

    assert Config.REMINDER_SWEEP_SECONDS == 300  # five minutes unless configured

    class EverySecond(TestingConfig):
        REMINDER_SWEEP_SECONDS = 1

    app = create_app(EverySecond, instance_path=str(tmp_path))
    trigger = build_scheduler(app).get_job("reminder-sweep").trigger
    assert trigger.interval == timedelta(seconds=1)


def test_malformed_encryption_key_is_one_line_without_the_value():
    result = _flask({"DATA_ENCRYPTION_KEY": "my-not-a-fernet-key"})
    assert result.returncode != 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "DATA_ENCRYPTION_KEY must be a Fernet key" in lines[0]
    assert "my-not-a-fernet-key" not in result.stderr and "Traceback" not in result.stderr


def test_malformed_old_encryption_key_stops_create_app(tmp_path):
    from cryptography.fernet import Fernet

    from config import TestingConfig

    class Rotating(TestingConfig):
        DATA_ENCRYPTION_KEY = Fernet.generate_key().decode()
        DATA_ENCRYPTION_OLD_KEYS = "old-key-typed-wrong"

    with pytest.raises(ConfigError, match="DATA_ENCRYPTION_OLD_KEYS") as info:
        create_app(Rotating, instance_path=str(tmp_path))
    assert "old-key-typed-wrong" not in str(info.value)
