"""Backup and restore: the database and the evidence files in one .tar.gz archive.

SQLite is copied with SQLite's online backup API (consistent while the app runs);
PostgreSQL with ``pg_dump --format=custom`` and restored with ``pg_restore``. The
archive holds ``manifest.json`` (what, when, schema revision, row counts),
``database.sqlite`` or ``database.pgdump``, and ``uploads/``. Restoring requires an
empty target database, so a restore never mixes two histories.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine, make_url

from tracker.models import Attachment, Plan, Task, TaskEvent, User

COUNTED = {"users": User, "plans": Plan, "tasks": Task, "task_events": TaskEvent,
           "attachments": Attachment}


class BackupError(RuntimeError):
    pass


def counts(session) -> dict[str, int]:
    return {name: session.execute(select(func.count()).select_from(model)).scalar()
            for name, model in COUNTED.items()}


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _pg_env(url) -> tuple[list[str], dict]:
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
            "-U", url.username or "postgres"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return args, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian package postgresql-client)")
    return path


def backup(engine: Engine, session, upload_folder: Path, target: Path) -> dict:
    url = engine.url
    manifest = {"created_at": datetime.now(timezone.utc).isoformat(),
                "database": url.get_backend_name(), "revision": _revision(engine),
                "counts": counts(session)}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if url.get_backend_name() == "sqlite":
            dump = Path(tmp) / "database.sqlite"
            source = sqlite3.connect(url.database)
            copy = sqlite3.connect(dump)
            with copy:
                source.backup(copy)
            source.close()
            copy.close()
        else:
            dump = Path(tmp) / "database.pgdump"
            args, env = _pg_env(url)
            result = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner",
                                     *args, "-f", str(dump), url.database],
                                    env=env, capture_output=True, text=True)
            if result.returncode != 0:
                raise BackupError("pg_dump failed: " + result.stderr.strip().splitlines()[-1])
        partial = target.with_suffix(target.suffix + ".part")
        with tarfile.open(partial, "w:gz") as archive:
            data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            archive.add(dump, dump.name)
            if upload_folder.is_dir():
                archive.add(upload_folder, "uploads")
        partial.replace(target)
    return manifest


def _is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        if "users" not in tables:
            return True
        return conn.execute(text("SELECT count(*) FROM users")).scalar() == 0


def _safe_members(archive: tarfile.TarFile):
    for member in archive.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or member.issym() or member.islnk():
            raise BackupError(f"unsafe path in archive: {member.name}")
        yield member


def restore(engine: Engine, upload_folder: Path, source: Path) -> dict:
    """Restore into an EMPTY database (schema may exist, but no users)."""
    if not source.is_file():
        raise BackupError(f"no such file: {source}")
    if not _is_empty(engine):
        raise BackupError("the target database is not empty; restore needs an empty database")
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(source, "r:gz") as archive:
        archive.extractall(tmp, members=list(_safe_members(archive)), filter="data")
        folder = Path(tmp)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        url = engine.url
        if manifest["database"] != url.get_backend_name():
            raise BackupError(f"this backup is of a {manifest['database']} database; the "
                              f"target is {url.get_backend_name()}")
        engine.dispose()
        if url.get_backend_name() == "sqlite":
            target = Path(url.database)
            for suffix in ("-wal", "-shm"):
                Path(str(target) + suffix).unlink(missing_ok=True)
            shutil.copyfile(folder / "database.sqlite", target)
        else:
            args, env = _pg_env(url)
            with engine.begin() as conn:  # an empty schema to restore into
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
            result = subprocess.run([_tool("pg_restore"), "--no-owner", *args, "-d",
                                     url.database, str(folder / "database.pgdump")],
                                    env=env, capture_output=True, text=True)
            if result.returncode != 0:
                raise BackupError("pg_restore failed: " +
                                  result.stderr.strip().splitlines()[-1])
        uploads = folder / "uploads"
        if uploads.is_dir():
            shutil.copytree(uploads, upload_folder, dirs_exist_ok=True)
    return manifest


def describe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
