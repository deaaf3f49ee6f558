"""Dependency audit: ``python scripts/audit_deps.py [--json]`` (``make audit``).

Runs pip-audit against the pinned requirement files, using the OSV vulnerability service,
then looks up each finding's OSV record (its id and aliases) for its severity.

Policy: a finding fails the audit (exit 1) only when a fix version newer than the pin
exists AND the finding is high or critical: a GitHub advisory severity of HIGH/CRITICAL,
or a CVSS v3/v4 base score of 7.0 or more from the record's vectors. Every other finding
(no fix, lower severity, unknown severity) is printed as a warning and does not fail.

When the vulnerability service cannot be reached (connection refused, DNS failure, timeout,
HTTP error) the audit prints one ``dependency audit SKIPPED: …`` line and exits 0: no data
is not the same as no vulnerabilities, and the line says so. The whole run is bounded by
``--timeout`` seconds. pip-audit failing for any other reason (a broken requirements file,
pip-audit missing) is an ERROR, exit 2, so a broken audit cannot pass silently.

The decisions (parsing pip-audit's JSON, scoring, classifying) are pure functions below;
only ``main`` and the ``_fetch``/``run_*`` helpers touch the network or processes.
"""
from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "requirements-test.txt")
OSV_URL = "https://api.osv.dev"
TOTAL_SECONDS = 90.0
REQUEST_SECONDS = 10.0  # one HTTP request, ours or pip-audit's
HIGH_SCORE = 7.0
HIGH_LABELS = frozenset({"HIGH", "CRITICAL"})
LABEL_RANK = {"LOW": 1, "MODERATE": 2, "HIGH": 3, "CRITICAL": 4}
MAX_IDS_PER_FINDING = 6  # the finding's id and its first aliases


class ServiceUnreachable(Exception):
    """The vulnerability service gave no usable answer; the audit is skipped."""


class AuditError(Exception):
    """pip-audit failed for a reason other than the network; the audit is broken."""


# --- pure logic ------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    description: str = ""

    @property
    def ids(self) -> tuple[str, ...]:
        """Its id, then its aliases, GitHub advisories first (they state a severity)."""
        aliases = sorted((a for a in self.aliases if a != self.id),
                         key=lambda a: (not a.startswith("GHSA-"), a))
        return (self.id, *aliases)


@dataclass(frozen=True)
class Severity:
    label: str | None = None  # LOW / MODERATE / HIGH / CRITICAL (GitHub advisory)
    score: float | None = None  # highest CVSS v3/v4 base score found
    sources: tuple[str, ...] = ()  # which record said what, for the printout

    @property
    def known(self) -> bool:
        return self.label is not None or self.score is not None

    @property
    def high(self) -> bool:
        return self.label in HIGH_LABELS or (self.score is not None and self.score >= HIGH_SCORE)

    def describe(self) -> str:
        parts = []
        if self.label:
            parts.append(self.label)
        if self.score is not None:
            parts.append(f"CVSS {self.score:.1f}")
        return ", ".join(parts) if parts else "severity unknown"


@dataclass(frozen=True)
class Verdict:
    finding: Finding
    severity: Severity
    fixable: bool
    fails: bool
    why: str


@dataclass
class Report:
    audited: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (package, reason)
    findings: list[Finding] = field(default_factory=list)


def parse_pip_audit(document: Mapping) -> Report:
    """pip-audit's ``--format json`` output → the dependencies audited, skipped, and found."""
    if not isinstance(document.get("dependencies"), list):
        raise AuditError("pip-audit's JSON has no 'dependencies' list")
    report = Report()
    for dep in document["dependencies"]:
        name = dep.get("name", "?")
        if "skip_reason" in dep:
            report.skipped.append((name, str(dep["skip_reason"])))
            continue
        report.audited += 1
        for vuln in dep.get("vulns", []):
            report.findings.append(Finding(
                package=name,
                version=str(dep.get("version", "?")),
                id=str(vuln["id"]),
                aliases=tuple(vuln.get("aliases") or ()),
                fix_versions=tuple(str(v) for v in vuln.get("fix_versions") or ()),
                description=str(vuln.get("description") or ""),
            ))
    return report


def cvss_base_score(kind: str, vector: str) -> float | None:
    """Base score of an OSV ``severity`` entry (CVSS_V3 or CVSS_V4); None if not scorable."""
    try:
        if kind == "CVSS_V3":
            return float(CVSS3(vector).base_score)
        if kind == "CVSS_V4":
            return float(CVSS4(vector).base_score)
    except (CVSSError, ValueError, KeyError, IndexError):
        return None
    return None  # CVSS_V2, Ubuntu priorities and the like are not part of the policy


def severity_from_records(records: Iterable[Mapping]) -> Severity:
    """The highest severity that any of a finding's OSV records (id and aliases) states."""
    label: str | None = None
    score: float | None = None
    sources: list[str] = []
    for record in records:
        rid = record.get("id", "?")
        database = record.get("database_specific")
        raw = database.get("severity") if isinstance(database, Mapping) else None
        if isinstance(raw, str) and raw.strip():
            stated = raw.strip().upper().replace("MEDIUM", "MODERATE")
            if stated in LABEL_RANK:
                sources.append(f"{rid}: {stated}")
                if label is None or LABEL_RANK[stated] > LABEL_RANK[label]:
                    label = stated
        for entry in record.get("severity") or ():
            kind, vector = entry.get("type", ""), entry.get("score", "")
            value = cvss_base_score(kind, vector)
            if value is not None:
                sources.append(f"{rid}: {kind} {value:.1f}")
                if score is None or value > score:
                    score = value
    return Severity(label=label, score=score, sources=tuple(sources))


def has_fix(version: str, fix_versions: Sequence[str]) -> bool:
    """A fix exists that is newer than the pinned version (an unparsable one counts)."""
    try:
        pinned = Version(version)
    except InvalidVersion:
        return bool(fix_versions)
    for candidate in fix_versions:
        try:
            if Version(candidate) > pinned:
                return True
        except InvalidVersion:
            return True
    return False


def classify(finding: Finding, severity: Severity) -> Verdict:
    fixable = has_fix(finding.version, finding.fix_versions)
    if not fixable:
        why = "no fix version yet"
    elif not severity.known:
        why = "severity unknown"
    elif not severity.high:
        why = "below high severity"
    else:
        why = "fixable and high severity"
    return Verdict(finding, severity, fixable, fixable and severity.high, why)


def exit_status(verdicts: Iterable[Verdict]) -> int:
    """1 when any finding fails the policy; warnings and an incomplete lookup are 0."""
    return 1 if any(v.fails for v in verdicts) else 0


def verdict_line(verdict: Verdict) -> str:
    f = verdict.finding
    aliases = f" ({', '.join(f.aliases)})" if f.aliases else ""
    fixes = f"fixed in {', '.join(f.fix_versions)}" if f.fix_versions else "no fix version"
    tag = "FAIL" if verdict.fails else "warn"
    return (f"  {tag}  {f.package} {f.version}  {f.id}{aliases}  {fixes}  "
            f"{verdict.severity.describe()}  [{verdict.why}]")


def summary_lines(report: Report, verdicts: Sequence[Verdict],
                  incomplete: str | None = None) -> list[str]:
    """The printout; ``incomplete`` is why some findings' severity could not be fetched."""
    lines = [f"dependency audit: {report.audited} pinned packages checked against OSV, "
             f"{len(verdicts)} finding{'' if len(verdicts) == 1 else 's'}"]
    for name, reason in report.skipped:
        lines.append(f"  warn  {name} not audited: {reason}")
    lines.extend(verdict_line(v) for v in verdicts)
    failing = sum(v.fails for v in verdicts)
    if failing:
        lines.append(f"dependency audit FAILED: {failing} fixable high-severity "
                     f"finding{'' if failing == 1 else 's'}; raise the pins above")
    elif incomplete:
        lines.append(f"dependency audit SKIPPED: vulnerability service unreachable "
                     f"({incomplete}); the findings above could not all be classified")
    elif verdicts:
        lines.append(f"dependency audit passed: no fixable high-severity finding "
                     f"({len(verdicts)} warning{'' if len(verdicts) == 1 else 's'} above)")
    else:
        lines.append("dependency audit passed: no known vulnerabilities")
    return lines


def pip_audit_network_failure(stderr: str) -> str | None:
    """The network reason in a failed pip-audit's stderr, or None if it failed otherwise."""
    markers = ("requests.exceptions.", "urllib3.exceptions.", "ServiceError",
               "ConnectionError", "Could not connect", "Max retries exceeded", "timed out")
    if not any(marker in stderr for marker in markers):
        return None
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for wanted in (markers[:2], markers):  # the HTTP library's own words say the most
        for line in reversed(lines):
            if any(marker in line for marker in wanted):
                return line[:200]
    return lines[-1][:200]


# --- the network and pip-audit ---------------------------------------------------------


class Clock:
    def __init__(self, total: float):
        self.deadline = time.monotonic() + total

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def request_timeout(self) -> float:
        left = self.left()
        if left < 1:
            raise ServiceUnreachable("time budget used up")
        return min(REQUEST_SECONDS, left)


def _within(seconds: float, call):
    """``call()``, abandoned after ``seconds`` of wall time: socket timeouts do not cover
    name resolution, nor a server that sends one byte at a time."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _fetch(url: str, timeout: float, body: dict | None = None) -> dict | None:
    """One OSV request. None for 404 (no such record); ServiceUnreachable for any failure."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={
        "Content-Type": "application/json", "User-Agent": "plan-tracker-audit"})

    def read() -> bytes:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()

    try:
        answer = json.loads(_within(timeout + 1, read).decode("utf-8"))
    except urllib.error.HTTPError as error:
        if error.code == 404 and body is None:
            return None
        raise ServiceUnreachable(f"HTTP {error.code} from {url}") from error
    except urllib.error.URLError as error:
        raise ServiceUnreachable(f"{url}: {error.reason}") from error
    except (OSError, http.client.HTTPException) as error:
        raise ServiceUnreachable(f"{url}: {error or type(error).__name__}") from error
    except ValueError as error:  # not JSON: a captive portal or a proxy's error page
        raise ServiceUnreachable(f"{url}: answer is not JSON") from error
    if not isinstance(answer, dict):
        raise ServiceUnreachable(f"{url}: unexpected answer")
    return answer


def probe(osv_url: str, clock: Clock) -> None:
    """One small query first, so an unreachable service is one clear line, quickly."""
    _fetch(f"{osv_url}/v1/query", clock.request_timeout(),
           {"package": {"name": "pip-audit", "ecosystem": "PyPI"}, "version": "2.10.1"})


def run_pip_audit(requirements: Sequence[Path], osv_url: str, clock: Clock) -> dict:
    command = [sys.executable, "-m", "pip_audit", "--vulnerability-service", "osv",
               "--osv-url", f"{osv_url}/v1/query", "--no-deps", "--disable-pip",
               "--format", "json", "--progress-spinner", "off",
               "--timeout", str(int(REQUEST_SECONDS))]
    for path in requirements:
        command += ["-r", str(path)]
    budget = clock.left() - 5  # leave time to fetch the records of what it finds
    if budget < 5:
        raise ServiceUnreachable("time budget used up")
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=budget)
    except subprocess.TimeoutExpired as error:
        raise ServiceUnreachable(f"pip-audit did not finish within {budget:.0f} s") from error
    try:
        document = json.loads(done.stdout)
    except ValueError:
        document = None
    if isinstance(document, dict) and "dependencies" in document:
        return document  # exit 1 only means "found something": we decide what fails
    reason = pip_audit_network_failure(done.stderr)
    if reason:
        raise ServiceUnreachable(reason)
    last = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["no output"]
    raise AuditError(f"pip-audit exited {done.returncode}: {last[0].strip()[:300]}")


def fetch_records(finding: Finding, osv_url: str, clock: Clock,
                  cache: dict[str, dict | None]) -> list[dict]:
    records = []
    for vuln_id in finding.ids[:MAX_IDS_PER_FINDING]:
        if vuln_id not in cache:
            quoted = urllib.parse.quote(vuln_id, safe="")
            cache[vuln_id] = _fetch(f"{osv_url}/v1/vulns/{quoted}", clock.request_timeout())
        if cache[vuln_id] is not None:
            records.append(cache[vuln_id])
    return records


def audit(requirements: Sequence[Path], osv_url: str,
          total: float) -> tuple[Report, list[Verdict], str | None]:
    """pip-audit's findings, each classified; plus why the lookup stopped early, if it did.

    A service lost after pip-audit answered leaves the remaining findings with an unknown
    severity (so they warn) and the reason is reported, but a finding already known to
    fail still fails.
    """
    clock = Clock(total)
    probe(osv_url, clock)
    report = parse_pip_audit(run_pip_audit(requirements, osv_url, clock))
    if report.audited == 0:  # nothing checked is not a pass
        reason = report.skipped[0][1] if report.skipped else "no pinned requirements found"
        raise AuditError(f"no dependency was audited ({reason})")
    cache: dict[str, dict | None] = {}
    verdicts: list[Verdict] = []
    incomplete: str | None = None
    for finding in report.findings:
        records: list[dict] = []
        if incomplete is None:
            try:
                records = fetch_records(finding, osv_url, clock, cache)
            except ServiceUnreachable as error:
                incomplete = str(error)
        verdicts.append(classify(finding, severity_from_records(records)))
    return report, verdicts, incomplete


def _verdict_json(verdict: Verdict) -> dict:
    return {**asdict(verdict.finding), "severity": verdict.severity.label,
            "cvss": verdict.severity.score, "severity_sources": verdict.severity.sources,
            "fixable": verdict.fixable, "fails": verdict.fails, "why": verdict.why}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--requirement", action="append", type=Path,
                        help="pinned requirements file (default: requirements.txt and "
                             "requirements-test.txt)")
    parser.add_argument("--osv-url", default=OSV_URL,
                        help=f"OSV API base URL (default {OSV_URL})")
    parser.add_argument("--timeout", type=float, default=TOTAL_SECONDS,
                        help=f"seconds for the whole audit (default {TOTAL_SECONDS:.0f})")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    requirements = args.requirement or [ROOT / name for name in REQUIREMENTS]
    osv_url = args.osv_url.rstrip("/")

    try:
        report, verdicts, incomplete = audit(requirements, osv_url, args.timeout)
    except ServiceUnreachable as error:
        line = f"dependency audit SKIPPED: vulnerability service unreachable ({error})"
        print(json.dumps({"status": "skipped", "reason": str(error)}) if args.json else line)
        return 0
    except AuditError as error:
        line = f"dependency audit ERROR: {error}"
        print(json.dumps({"status": "error", "reason": str(error)}) if args.json else line)
        return 2

    status = exit_status(verdicts)
    if args.json:
        print(json.dumps({
            "status": "failed" if status else "skipped" if incomplete else "passed",
            "reason": incomplete,
            "audited": report.audited,
            "not_audited": [{"name": n, "reason": r} for n, r in report.skipped],
            "findings": [_verdict_json(v) for v in verdicts],
        }, indent=2))
    else:
        print("\n".join(summary_lines(report, verdicts, incomplete)))
    return status


if __name__ == "__main__":
    sys.exit(main())
