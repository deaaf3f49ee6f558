"""Group robots: DingTalk, WeCom (企业微信) and Feishu/Lark custom bots.

Hosts are restricted to the vendors' own (plus ``WEBHOOK_ALLOWED_HOSTS``); redirects
are never followed; every request has a timeout. Error messages name the host only:
webhook URLs carry access tokens / keys and must not reach logs or pages, so ``send``
raises nothing but ``DeliveryError`` (the standard library's own errors quote the URL).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, quote_plus, urlsplit

from tracker.reminders.channels import DeliveryError

VENDOR_HOSTS = {
    "dingtalk": ("oapi.dingtalk.com",),
    "wecom": ("qyapi.weixin.qq.com",),
    "feishu": ("open.feishu.cn", "open.larksuite.com"),
}
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Robot:
    kind: str
    url: str
    secret: str | None = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise DeliveryError(f"{urlsplit(req.full_url).hostname} answered with a redirect "
                            f"({code}); redirects are not followed", permanent=True)


_opener = urllib.request.build_opener(_NoRedirect)


# Spaces, control characters and anything not ASCII: http.client refuses them at send time
# with an error quoting the whole URL, token included.
_UNSAFE = re.compile(r"[^\x21-\x7e]")
UNSAFE_CHARACTERS = ("the webhook URL contains spaces, control characters or non-ASCII "
                     "characters")


def has_unsafe_characters(url: str) -> bool:
    """Whether the URL (without surrounding blanks) holds a space, a control character or a
    non-ASCII character."""
    return bool(_UNSAFE.search((url or "").strip()))


def check_url(kind: str, url: str, extra_hosts: Iterable[str] = ()) -> str:
    """Validate a webhook URL; return the host. Raises DeliveryError(permanent)."""
    if kind not in VENDOR_HOSTS:
        raise DeliveryError(f"unknown robot kind {kind!r}", permanent=True)
    try:
        parts = urlsplit((url or "").strip())
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (raises on a malformed port)
        query = parse_qs(parts.query)
    except ValueError:
        raise DeliveryError("the webhook URL is malformed", permanent=True) from None
    if parts.scheme not in ("http", "https") or not host:
        raise DeliveryError("the webhook URL must start with https:// and name a host",
                            permanent=True)
    if has_unsafe_characters(url):
        raise DeliveryError(UNSAFE_CHARACTERS, permanent=True)
    extra = {h.strip().lower() for h in extra_hosts if h and h.strip()}
    if host in VENDOR_HOSTS[kind]:
        if parts.scheme != "https":
            raise DeliveryError(f"the webhook URL for {host} must use https", permanent=True)
    elif host not in extra:
        raise DeliveryError(
            f"host {host} is not allowed for {kind} robots (allowed: "
            f"{', '.join(VENDOR_HOSTS[kind])}; others through WEBHOOK_ALLOWED_HOSTS)",
            permanent=True)
    if parts.username or parts.password:
        raise DeliveryError("the webhook URL must not contain a user name or password",
                            permanent=True)
    if kind == "wecom" and not query.get("key"):
        raise DeliveryError("a WeCom robot URL carries its key: …/webhook/send?key=…",
                            permanent=True)
    if kind == "dingtalk" and not query.get("access_token"):
        raise DeliveryError("a DingTalk robot URL carries access_token=…", permanent=True)
    return host


def mask_url(url: str) -> str:
    """The URL without its query (where the tokens are), for pages."""
    if not isinstance(url, str):
        return "…"
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")
    except ValueError:
        return "…"


# --- signing ------------------------------------------------------------------------

def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """HMAC-SHA256 keyed by the secret over "timestamp\\nsecret", base64, URL-encoded."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """HMAC-SHA256 keyed by "timestamp\\nsecret" over an empty message, base64."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def build_request(robot: Robot, title: str, markdown: str,
                  now: float | None = None) -> tuple[str, dict]:
    """The URL to POST to and the JSON body, signed as the vendor requires."""
    now = time.time() if now is None else now
    url = robot.url.strip()
    if robot.kind == "dingtalk":
        body = {"msgtype": "markdown", "markdown": {"title": title[:60], "text": markdown}}
        if robot.secret:
            ts = int(now * 1000)
            url += ("&" if "?" in url else "?") + \
                f"timestamp={ts}&sign={dingtalk_sign(robot.secret, ts)}"
        return url, body
    if robot.kind == "wecom":
        # WeCom markdown content is limited to 4096 bytes.
        content = markdown.encode()[:4000].decode(errors="ignore")
        return url, {"msgtype": "markdown", "markdown": {"content": content}}
    if robot.kind == "feishu":
        body: dict = {"msg_type": "interactive", "card": {
            "header": {"title": {"tag": "plain_text", "content": title[:100]}},
            "elements": [{"tag": "markdown", "content": markdown}]}}
        if robot.secret:
            ts = int(now)
            body = {"timestamp": str(ts), "sign": feishu_sign(robot.secret, ts), **body}
        return url, body
    raise DeliveryError(f"unknown robot kind {robot.kind!r}", permanent=True)


def _vendor_error(kind: str, answer: dict) -> tuple[int, str] | None:
    """The vendor's error code and message from a 200 answer, or None when it is OK."""
    if kind in ("dingtalk", "wecom"):
        code = answer.get("errcode", 0)
        return None if code == 0 else (int(code), str(answer.get("errmsg", ""))[:200])
    code = answer.get("code", answer.get("StatusCode", 0))
    return None if code == 0 else (int(code), str(answer.get("msg", ""))[:200])


# Vendor codes that a retry can fix (rate limits, busy servers); the rest are set-up errors.
_TEMPORARY_CODES = {-1, 130101, 45009, 9499, 11232, 11233}


def send(robot: Robot, title: str, markdown: str, *, extra_hosts: Iterable[str] = (),
         timeout: float = DEFAULT_TIMEOUT, now: float | None = None) -> None:
    """POST the message. Raises only DeliveryError, whose message names the host and never
    the URL: the errors raised on the way (``http.client.InvalidURL``, ``ValueError``…)
    quote the URL with its token or signature, so they are replaced, not chained."""
    host = check_url(robot.kind, robot.url, extra_hosts)
    try:
        url, body = build_request(robot, title, markdown, now)
        data = json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "PlanTracker/1"})
    except DeliveryError:
        raise
    except Exception as exc:  # noqa: BLE001 — its text may quote the URL
        raise DeliveryError(f"cannot build the request to {host}: {exc.__class__.__name__}",
                            permanent=True) from None
    try:
        with _opener.open(request, timeout=timeout) as response:
            raw = response.read(65536)
    except DeliveryError:
        raise
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{host} answered HTTP {exc.code}",
                            permanent=400 <= exc.code < 500 and exc.code != 429) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"cannot reach {host}: {reason.__class__.__name__}") from None
    except (http.client.InvalidURL, ValueError) as exc:  # the URL itself: retrying won't help
        raise DeliveryError(f"the request to {host} was refused before sending: "
                            f"{exc.__class__.__name__}", permanent=True) from None
    except Exception as exc:  # noqa: BLE001 — HTTPException (a broken answer), or else
        raise DeliveryError(f"sending to {host} failed: {exc.__class__.__name__}") from None
    try:
        answer = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DeliveryError(f"{host} answered something that is not JSON") from None
    error = _vendor_error(robot.kind, answer if isinstance(answer, dict) else {})
    if error is not None:
        code, message = error
        raise DeliveryError(f"{host} refused the message: {code} {message}",
                            permanent=code not in _TEMPORARY_CODES)
