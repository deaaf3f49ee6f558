"""Backup → restore into an empty database finds every task, event and evidence file."""
import hashlib
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from config import TestingConfig
from tests.conftest import _admin_connect
from tests.test_access import png_bytes
from tracker import create_app
from tracker.backup import counts
from tracker.crypto import Keyring
from tracker.extensions import db
from tracker.models import Attachment, ChannelKind, GroupChannel, Task, User


@pytest.fixture
def empty_target(app, tmp_path):
    """A second app on an empty database of the same kind."""
    source_url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if source_url.get_backend_name() == "sqlite":
        url = f"sqlite:///{tmp_path / 'restored.sqlite'}"
        dropper = None
    else:
        name = f"{source_url.database}_restore"
        with _admin_connect(source_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = source_url.set(database=name).render_as_string(hide_password=False)

        def dropper():
            with _admin_connect(source_url) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    class Target(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        UPLOAD_FOLDER = str(tmp_path / "restored-uploads")

    target = create_app(Target, instance_path=str(tmp_path / "restored-instance"))
    yield target
    with target.app_context():
        db.engine.dispose()
    if dropper:
        dropper()


def test_backup_and_restore_round_trip(app, runner, world, empty_target, tmp_path):
    from tracker.tasks.services import Upload, update_progress

    with app.app_context():
        update_progress(db.session.get(Task, world.task),
                        db.session.get(User, world.user_ids["lead"]),
                        expected_version=None, note="证据", uploads=[Upload("a.png", png_bytes())],
                        upload_folder=Path(app.config["UPLOAD_FOLDER"]), max_upload_bytes=10**6)
        db.session.commit()
        before = counts(db.session)
        attachment = db.session.execute(select(Attachment)).scalar_one()
        original = (Path(app.config["UPLOAD_FOLDER"]) / attachment.stored_name).read_bytes()
    archive = tmp_path / "backup.tar.gz"
    result = runner.invoke(args=["tracker", "backup", str(archive)])
    assert result.exit_code == 0, result.output
    assert archive.stat().st_size > 0

    restored = empty_target.test_cli_runner().invoke(args=["tracker", "restore", str(archive)])
    assert result.exit_code == 0 and "restored" in restored.output, restored.output
    with empty_target.app_context():
        assert counts(db.session) == before and before["attachments"] == 1
        item = db.session.execute(select(Attachment)).scalar_one()
        copy = Path(empty_target.config["UPLOAD_FOLDER"]) / item.stored_name
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == item.sha256
        assert copy.read_bytes() == original
    # A second restore into the now non-empty database is refused.
    again = empty_target.test_cli_runner().invoke(args=["tracker", "restore", str(archive)])
    assert again.exit_code == 1 and "not empty" in again.output


def test_backups_carry_ciphertext_and_restoring_needs_the_same_key(app, runner, world,
                                                                   empty_target, tmp_path):
    url = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN0123456789"
    with app.app_context():
        db.session.add(GroupChannel(organization_id=world.org, kind=ChannelKind.dingtalk,
                                    name="教务群", webhook_url=url, secret="SECabc0123"))
        db.session.commit()
    archive = tmp_path / "backup.tar.gz"
    assert runner.invoke(args=["tracker", "backup", str(archive)]).exit_code == 0

    same_key = empty_target.extensions["keyring"]
    empty_target.extensions["keyring"] = Keyring([Fernet.generate_key()])  # another server
    restored = empty_target.test_cli_runner().invoke(args=["tracker", "restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert "warning: robot" in restored.output and "cannot be decrypted" in restored.output
    with empty_target.app_context():
        stored = db.session.execute(text("SELECT webhook_url, secret FROM group_channels")).one()
        assert all(v.startswith("fernet:") for v in stored)
        assert "TOKEN0123456789" not in stored[0] and "SECabc0123" not in stored[1]
        assert db.session.execute(db.select(GroupChannel)).scalar_one().credentials_unreadable
        db.session.remove()
    empty_target.extensions["keyring"] = same_key  # started again with the source's key
    with empty_target.app_context():
        channel = db.session.execute(db.select(GroupChannel)).scalar_one()
        assert (channel.webhook_url, channel.secret) == (url, "SECabc0123")
