"""The production shape really runs: migrations, gunicorn with two workers, health check."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_with_two_workers_serves_health_and_security_headers(tmp_path):
    port = _free_port()
    env = {**os.environ, "TRACKER_CONFIG": "production", "SECRET_KEY": "test-secret-value",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite'}",
           "UPLOAD_FOLDER": str(tmp_path / "uploads"), "GUNICORN_BIND": f"127.0.0.1:{port}",
           "GUNICORN_WORKERS": "2"}
    upgrade = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    server = subprocess.Popen([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
                               "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        body = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body, headers = r.read().decode(), r.headers
                    break
            except OSError:
                time.sleep(0.1)
        assert body is not None and '"ok"' in body
        assert headers["Strict-Transport-Security"].startswith("max-age")
        assert "script-src 'self'" in headers["Content-Security-Policy"]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert output.count("Booting worker") == 2
    assert "scheduler" not in output.lower()  # web workers never start a scheduler


def test_production_without_secret_key_fails_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"TRACKER_CONFIG": "production",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "routes"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "SECRET_KEY" in result.stderr
