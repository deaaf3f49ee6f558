"""Security headers, Content-Security-Policy, request ids and login rate limiting.

No page needs an inline script: every script is a file under /static, so the policy
allows scripts from this origin only. Styles allow 'unsafe-inline' because Bootstrap
and plotly.js set style attributes at run time (a much smaller risk than scripts).
A view that needs more (e.g. plotly.js's use of ``new Function``) adds to
``g.csp_script_src`` for its own response only.
"""
from __future__ import annotations

import logging
import secrets
import time

from flask import Flask, g, request

from tracker.extensions import limiter

log = logging.getLogger("tracker.request")

BASE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def allow_script(source: str) -> None:
    """Let this response's CSP allow one more script source (e.g. 'unsafe-eval')."""
    extra = g.setdefault("csp_script_src", [])
    if source not in extra:
        extra.append(source)


def content_security_policy() -> str:
    policy = {k: list(v) for k, v in BASE_CSP.items()}
    policy["script-src"] += g.get("csp_script_src", [])
    return "; ".join(f"{k} {' '.join(v)}" for k, v in policy.items())


def init_app(app: Flask) -> None:
    storage = app.config.get("RATELIMIT_STORAGE_URI") or (
        app.config.get("REDIS_URL") or "memory://")
    app.config["RATELIMIT_STORAGE_URI"] = storage
    limiter.init_app(app)

    @app.before_request
    def _start() -> None:
        g.request_id = request.headers.get("X-Request-ID", "")[:64] or secrets.token_hex(8)
        g.started = time.perf_counter()

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        headers["X-Request-ID"] = g.get("request_id", "")
        if "started" in g and not request.path.startswith(("/static/", "/bootstrap/")):
            log.info("%s %s %s %.1fms", request.method, request.path, response.status_code,
                     (time.perf_counter() - g.started) * 1000,
                     extra={"request_id": g.get("request_id")})
        return response


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every log record (``-`` outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(app: Flask) -> None:
    """One line per record with time, level, request id and logger: easy to grep and ship."""
    if app.testing or app.debug:
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) and h.filters for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
