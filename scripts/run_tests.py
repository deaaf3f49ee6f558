"""Run the whole suite: on SQLite, then on PostgreSQL when one is reachable.

PostgreSQL: TEST_DATABASE_URL if set, else a server on 127.0.0.1:5432 (trust auth),
in a throwaway database this script creates and drops. Anything skipped is said in
one line. Exit status is non-zero when any run fails.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = os.environ.get("TEST_WORKERS", "2")


def pytest(extra_env: dict[str, str], args: list[str]) -> int:
    env = {**os.environ, **extra_env}
    command = [sys.executable, "-m", "pytest", "-n", WORKERS, "-rs", *args]
    print("+", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def postgres_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    print("== test suite on SQLite ==", flush=True)
    status = pytest({"TEST_DATABASE_URL": ""}, sys.argv[1:])

    url = os.environ.get("TEST_DATABASE_URL")
    throwaway = None
    if not url:
        if not postgres_answers():
            print("SKIPPED: PostgreSQL run — no TEST_DATABASE_URL and nothing answers on "
                  "127.0.0.1:5432", flush=True)
            return status
        import psycopg

        throwaway = f"tracker_test_{secrets.token_hex(4)}"
        try:
            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                                 autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{throwaway}"')
        except psycopg.Error as error:
            print(f"SKIPPED: PostgreSQL run — cannot create a database on 127.0.0.1:5432: "
                  f"{error}".splitlines()[0], flush=True)
            return status
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{throwaway}"
    print(f"== test suite on PostgreSQL ({url.rsplit('@', 1)[-1]}) ==", flush=True)
    print("SKIPPED on PostgreSQL: browser tests (already run against SQLite; the pages "
          "are the same)", flush=True)
    try:
        pg_status = pytest({"TEST_DATABASE_URL": url}, ["-m", "not browser", *sys.argv[1:]])
    finally:
        if throwaway:
            import psycopg

            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                                 autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{throwaway}" WITH (FORCE)')
    return status or pg_status


if __name__ == "__main__":
    sys.exit(main())
