"""The dependency audit: which findings fail CI, and that no network means a clear skip.

The policy is tested on pip-audit JSON in the shape pip-audit 2.10.1 writes and on OSV
records shaped like the service's. The script itself runs as CI runs it, against a fake OSV
service on 127.0.0.1 or with the network made unreachable; nothing here needs the internet.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scripts.audit_deps import (
    AuditError,
    Finding,
    Severity,
    classify,
    cvss_base_score,
    exit_status,
    has_fix,
    parse_pip_audit,
    pip_audit_network_failure,
    severity_from_records,
    summary_lines,
)
from tests.conftest import answer_json

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "audit_deps.py"

V31_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
V31_HIGH = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H"  # 7.5
V31_MODERATE = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"  # 5.4
V40_CRITICAL = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"  # 9.3

PIP_AUDIT_JSON = json.loads("""
{"dependencies": [
  {"name": "flask", "version": "3.1.3", "vulns": []},
  {"name": "werkzeug", "version": "3.0.1", "vulns": [
    {"id": "CVE-2024-34069", "fix_versions": ["3.0.3"],
     "aliases": ["GHSA-2g68-c3qc-8985"], "description": "Werkzeug debugger vulnerable to RCE"}]},
  {"name": "jinja2", "version": "3.1.3", "vulns": [
    {"id": "CVE-2024-34064", "fix_versions": ["3.1.4"],
     "aliases": ["GHSA-h75v-3vvj-5mfj"], "description": "xmlattr accepts keys with spaces"}]},
  {"name": "legacy-lib", "version": "1.0", "vulns": [
    {"id": "PYSEC-0000-1", "fix_versions": [], "aliases": ["GHSA-test-crit-nofx"],
     "description": "made up: critical, no fix released"}]},
  {"name": "quiet-lib", "version": "2.0", "vulns": [
    {"id": "PYSEC-0000-2", "fix_versions": ["2.1"], "aliases": [],
     "description": "made up: a record that states no severity"}]},
  {"name": "private-pkg", "skip_reason": "Dependency not found on PyPI and could not be audited"}
], "fixes": []}
""")

OSV_RECORDS = {
    "GHSA-2g68-c3qc-8985": {"id": "GHSA-2g68-c3qc-8985",
                            "severity": [{"type": "CVSS_V3", "score": V31_HIGH}],
                            "database_specific": {"severity": "HIGH"}},
    "GHSA-h75v-3vvj-5mfj": {"id": "GHSA-h75v-3vvj-5mfj",
                            "severity": [{"type": "CVSS_V3", "score": V31_MODERATE}],
                            "database_specific": {"severity": "MODERATE"}},
    "PYSEC-0000-1": {"id": "PYSEC-0000-1"},
    "GHSA-test-crit-nofx": {"id": "GHSA-test-crit-nofx",
                            "severity": [{"type": "CVSS_V3", "score": V31_CRITICAL}],
                            "database_specific": {"severity": "CRITICAL"}},
    "PYSEC-0000-2": {"id": "PYSEC-0000-2", "database_specific": {"source": "somewhere"}},
}


def _verdicts():
    report = parse_pip_audit(PIP_AUDIT_JSON)
    return report, {
        f.package: classify(f, severity_from_records(
            [OSV_RECORDS[i] for i in f.ids if i in OSV_RECORDS]))
        for f in report.findings
    }


def test_pip_audit_json_is_parsed_into_findings_and_skips():
    report = parse_pip_audit(PIP_AUDIT_JSON)
    assert report.audited == 5
    assert report.skipped == [("private-pkg", "Dependency not found on PyPI and could not "
                                              "be audited")]
    werkzeug = next(f for f in report.findings if f.package == "werkzeug")
    assert werkzeug == Finding("werkzeug", "3.0.1", "CVE-2024-34069", ("GHSA-2g68-c3qc-8985",),
                               ("3.0.3",), "Werkzeug debugger vulnerable to RCE")
    with pytest.raises(AuditError):
        parse_pip_audit({"error": "nope"})


def test_only_the_fixable_high_finding_fails():
    report, verdicts = _verdicts()
    assert verdicts["werkzeug"].fails  # fixable, HIGH
    assert verdicts["werkzeug"].severity == Severity(
        "HIGH", 7.5, ("GHSA-2g68-c3qc-8985: HIGH", "GHSA-2g68-c3qc-8985: CVSS_V3 7.5"))
    assert not verdicts["jinja2"].fails  # fixable, MODERATE
    assert verdicts["jinja2"].why == "below high severity"
    assert not verdicts["legacy-lib"].fails  # CRITICAL through its alias, but no fix
    assert verdicts["legacy-lib"].severity.label == "CRITICAL"
    assert verdicts["legacy-lib"].why == "no fix version yet"
    assert not verdicts["quiet-lib"].fails  # fixable, severity unknown
    assert verdicts["quiet-lib"].why == "severity unknown"
    assert exit_status(verdicts.values()) == 1
    assert exit_status(v for name, v in verdicts.items() if name != "werkzeug") == 0

    lines = summary_lines(report, list(verdicts.values()))
    assert lines[0] == "dependency audit: 5 pinned packages checked against OSV, 4 findings"
    assert ("  FAIL  werkzeug 3.0.1  CVE-2024-34069 (GHSA-2g68-c3qc-8985)  fixed in 3.0.3  "
            "HIGH, CVSS 7.5  [fixable and high severity]") in lines
    assert any(line.startswith("  warn  legacy-lib 1.0  PYSEC-0000-1") and
               "no fix version" in line and "CRITICAL" in line for line in lines)
    assert "  warn  private-pkg not audited: Dependency not found" in "\n".join(lines)
    assert lines[-1].startswith("dependency audit FAILED: 1 fixable high-severity finding")


def test_warnings_alone_pass_and_say_so():
    report, verdicts = _verdicts()
    del verdicts["werkzeug"]
    lines = summary_lines(report, list(verdicts.values()))
    assert lines[-1] == ("dependency audit passed: no fixable high-severity finding "
                         "(3 warnings above)")
    assert summary_lines(parse_pip_audit({"dependencies": []}), [])[-1] == (
        "dependency audit passed: no known vulnerabilities")


def test_lost_service_leaves_findings_unclassified_but_listed():
    report, verdicts = _verdicts()
    unclassified = [classify(f, Severity()) for f in report.findings if f.package != "werkzeug"]
    lines = summary_lines(report, unclassified, incomplete="timed out")
    assert lines[-1].startswith("dependency audit SKIPPED: vulnerability service unreachable "
                                "(timed out)")
    assert exit_status(unclassified) == 0


@pytest.mark.parametrize(("kind", "vector", "score"), [
    ("CVSS_V3", V31_CRITICAL, 9.8),
    ("CVSS_V3", V31_HIGH, 7.5),
    ("CVSS_V3", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS_V3", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:L/A:L", 7.0),
    ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:H/UI:R/S:C/C:H/I:L/A:N", 6.9),
    ("CVSS_V4", V40_CRITICAL, 9.3),
    ("CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 6.9),
    ("CVSS_V3", "CVSS:3.1/AV:N/garbage", None),
    ("CVSS_V2", "AV:N/AC:L/Au:N/C:C/I:C/A:C", None),  # not part of the policy
])
def test_cvss_base_scores(kind, vector, score):
    assert cvss_base_score(kind, vector) == score


def test_the_high_threshold_is_a_base_score_of_seven():
    def sev(vector):
        return severity_from_records([{"id": "X", "severity": [{"type": "CVSS_V3",
                                                                 "score": vector}]}])
    assert sev("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:L/A:L").high  # 7.0
    assert not sev("CVSS:3.1/AV:N/AC:L/PR:H/UI:R/S:C/C:H/I:L/A:N").high  # 6.9
    v4_only = severity_from_records([{"id": "Y", "severity": [{"type": "CVSS_V4",
                                                                "score": V40_CRITICAL}]}])
    assert v4_only.high and v4_only.label is None and v4_only.score == 9.3


def test_the_highest_severity_across_id_and_aliases_counts():
    severity = severity_from_records([
        {"id": "PYSEC-1", "database_specific": {"severity": "moderate"}},
        {"id": "GHSA-1", "severity": [{"type": "CVSS_V3", "score": V31_MODERATE}],
         "database_specific": {"severity": "HIGH"}},
        {"id": "CVE-1", "severity": [{"type": "CVSS_V3", "score": "not a vector"}]},
    ])
    assert (severity.label, severity.score, severity.high) == ("HIGH", 5.4, True)
    assert severity_from_records([{"id": "GHSA-2", "database_specific": {
        "severity": "MEDIUM"}}]).label == "MODERATE"
    assert not severity_from_records([]).known


def test_a_fix_must_be_newer_than_the_pin():
    assert has_fix("3.0.1", ["3.0.3"])
    assert has_fix("2.1", ["1.5", "2.3"])
    assert not has_fix("2.4", ["1.5", "2.3"])  # fixed only on branches older than the pin
    assert not has_fix("1.0", [])
    assert has_fix("1.0", ["not-a-version"])  # when unsure, it counts as fixable


def test_pip_audit_network_failures_are_told_apart_from_other_failures():
    traceback = ("Traceback (most recent call last):\n  ...\n"
                 "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev',"
                 " port=443): Max retries exceeded with url: /v1/query\n")
    assert pip_audit_network_failure(traceback).startswith("requests.exceptions.Connection")
    service_error = ("requests.exceptions.HTTPError: 503 Server Error: Service Unavailable\n"
                     "The above exception was the direct cause of the following exception:\n"
                     "pip_audit._service.interface.ServiceError\n")
    assert pip_audit_network_failure(service_error).startswith(
        "requests.exceptions.HTTPError: 503")
    assert pip_audit_network_failure(
        "ERROR:pip_audit._cli:requirement flask is not pinned to an exact version") is None


# --- the script as CI runs it ------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(tmp_path, *args, proxy: str | None = None, timeout: float = 60):
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # pip-audit's cache, kept out of ~
    if proxy:
        env.update(HTTPS_PROXY=proxy, https_proxy=proxy, HTTP_PROXY=proxy, http_proxy=proxy)
    else:
        env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - started


def test_unreachable_service_skips_quickly_with_one_clear_line(tmp_path):
    done, seconds = _run(tmp_path, proxy=f"http://127.0.0.1:{_closed_port()}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(
        "dependency audit SKIPPED: vulnerability service unreachable (")
    assert len(done.stdout.strip().splitlines()) == 1
    assert seconds < 20


def test_unreachable_service_url_skips_in_json_too(tmp_path):
    done, _ = _run(tmp_path, "--json", "--osv-url", f"http://127.0.0.1:{_closed_port()}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["status"] == "skipped"


def test_a_service_that_never_answers_is_a_skip_within_the_budget(tmp_path):
    with socket.socket() as silent:  # accepts connections (the kernel does), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        done, seconds = _run(tmp_path, "--osv-url", url, "--timeout", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("dependency audit SKIPPED: vulnerability service unreachable")
    assert "timed out" in done.stdout or "no answer" in done.stdout
    assert seconds < 15


def _osv_record(vuln_id, package, fixed, severity, vector, aliases=()):
    return {
        "schema_version": "1.6.0", "id": vuln_id, "aliases": list(aliases),
        "summary": f"{package} test advisory",
        "affected": [{"package": {"name": package, "ecosystem": "PyPI"},
                      "ranges": [{"type": "ECOSYSTEM",
                                  "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
        "severity": [{"type": "CVSS_V3", "score": vector}],
        "database_specific": {"severity": severity},
    }


@pytest.fixture
def fake_osv():
    """An OSV look-alike on 127.0.0.1: POST /v1/query and GET /v1/vulns/<id>."""
    records = {
        "werkzeug": [_osv_record("GHSA-2g68-c3qc-8985", "werkzeug", "3.0.3", "HIGH", V31_HIGH,
                                 ["CVE-2024-34069"])],
        "jinja2": [_osv_record("GHSA-h75v-3vvj-5mfj", "jinja2", "3.1.4", "MODERATE",
                               V31_MODERATE, ["CVE-2024-34064"])],
    }
    by_id = {r["id"]: r for found in records.values() for r in found}
    status = {"code": 200, "probe": 200}  # the script's own first query is for pip-audit

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code, body):
            answer_json(self, code, body)

        def do_POST(self):  # noqa: N802 (http.server's naming)
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            code = status["probe" if query["package"]["name"] == "pip-audit" else "code"]
            if code != 200:
                return self._answer(code, {"message": "unavailable"})
            found = records.get(query["package"]["name"], [])
            self._answer(200, {"vulns": found} if found else {})

        def do_GET(self):  # noqa: N802
            record = by_id.get(self.path.rsplit("/", 1)[-1])
            self._answer(200 if record else 404, record or {"message": "not found"})

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", status
    finally:
        server.shutdown()
        server.server_close()


def test_a_fixable_high_finding_fails_the_script(tmp_path, fake_osv):
    url, _ = fake_osv
    pins = tmp_path / "requirements.txt"
    pins.write_text("Werkzeug==3.0.1\nJinja2==3.1.3\nclick==8.5.1\n")
    done, _ = _run(tmp_path, "-r", str(pins), "--osv-url", url)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "dependency audit: 3 pinned packages checked against OSV, 2 findings" in out
    # pip-audit names a finding by its CVE; the severity comes from the GHSA alias's record
    assert "FAIL  werkzeug 3.0.1  CVE-2024-34069 (GHSA-2g68-c3qc-8985)" in out
    assert "warn  jinja2 3.1.3  CVE-2024-34064" in out and "MODERATE, CVSS 5.4" in out
    assert out.strip().splitlines()[-1].startswith("dependency audit FAILED")


def test_warnings_only_pass_the_script(tmp_path, fake_osv):
    url, _ = fake_osv
    pins = tmp_path / "requirements.txt"
    pins.write_text("Jinja2==3.1.3\n")
    done, _ = _run(tmp_path, "-r", str(pins), "--osv-url", url, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "passed"
    assert [(f["package"], f["severity"], f["fails"]) for f in result["findings"]] == [
        ("jinja2", "MODERATE", False)]


def test_a_service_answering_errors_is_a_skip(tmp_path, fake_osv):
    url, status = fake_osv
    status["probe"] = 503
    done, _ = _run(tmp_path, "--osv-url", url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ("dependency audit SKIPPED: vulnerability service "
                                   f"unreachable (HTTP 503 from {url}/v1/query)")


def test_a_service_lost_after_the_first_query_is_a_skip(tmp_path, fake_osv):
    url, status = fake_osv  # the script's query answers, pip-audit's then get 503
    status["code"] = 503
    pins = tmp_path / "requirements.txt"
    pins.write_text("Werkzeug==3.0.1\n")
    done, _ = _run(tmp_path, "-r", str(pins), "--osv-url", url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("dependency audit SKIPPED: vulnerability service unreachable")
    assert len(done.stdout.strip().splitlines()) == 1
    assert "503 Server Error" in done.stdout


@pytest.mark.parametrize(("content", "said"), [
    ("flask>=3\n", "dependency audit ERROR: pip-audit exited 1"),  # not pinned
    ("# nothing pinned\n", "dependency audit ERROR: no dependency was audited"),
])
def test_a_broken_requirements_file_is_an_error_not_a_pass(tmp_path, fake_osv, content, said):
    url, _ = fake_osv
    pins = tmp_path / "requirements.txt"
    pins.write_text(content)
    done, _ = _run(tmp_path, "-r", str(pins), "--osv-url", url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith(said)
