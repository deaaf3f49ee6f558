"""E-mail over SMTP: plain text and HTML, headers built safely (no header injection)."""
from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

from tracker.reminders.channels import DeliveryError


@dataclass(frozen=True)
class SmtpSettings:
    server: str
    port: int
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "plan-tracker@localhost"
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config) -> "SmtpSettings":
        return cls(server=config["MAIL_SERVER"], port=int(config["MAIL_PORT"]),
                   use_tls=bool(config.get("MAIL_USE_TLS")),
                   use_ssl=bool(config.get("MAIL_USE_SSL")),
                   username=config.get("MAIL_USERNAME") or None,
                   password=config.get("MAIL_PASSWORD") or None,
                   sender=config.get("MAIL_DEFAULT_SENDER") or "plan-tracker@localhost",
                   timeout=float(config.get("MAIL_TIMEOUT", 10)))


def one_line(value: str, limit: int = 200) -> str:
    """Header text: control characters (CR, LF, …) become spaces; length bounded."""
    cleaned = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value or "")
    return " ".join(cleaned.split())[:limit]


def _address(display_name: str, addr: str) -> Address:
    addr = (addr or "").strip()
    if any(ch in addr for ch in "\r\n<>,;\"") or addr.count("@") != 1:
        raise DeliveryError(f"invalid e-mail address {one_line(addr, 80)!r}", permanent=True)
    local_part, domain = addr.split("@")
    try:
        return Address(display_name=one_line(display_name, 80), username=local_part,
                       domain=domain)
    except (ValueError, IndexError) as exc:
        raise DeliveryError(f"invalid e-mail address {one_line(addr, 80)!r}",
                            permanent=True) from exc


def build_message(settings: SmtpSettings, *, to_name: str, to_addr: str, subject: str,
                  text: str, html: str, key: str | None = None) -> EmailMessage:
    """``key``: the notification's idempotency key. It becomes a stable Message-ID, so
    the rare duplicate (see the outbox's guarantee) is recognised as one by mail clients."""
    message = EmailMessage()
    sender_name, _, sender_addr = settings.sender.rpartition("<")
    if sender_addr:
        message["From"] = _address(sender_name.strip().strip('"'), sender_addr.rstrip(">"))
    else:
        message["From"] = _address("", settings.sender)
    message["To"] = _address(to_name, to_addr)
    message["Subject"] = one_line(subject)
    domain = str(message["From"].addresses[0].domain)
    if key:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        message["Message-ID"] = f"<{digest}.plan-tracker@{domain}>"
        message["X-Plan-Tracker-Key"] = one_line(key)
    else:
        message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    host = f"{settings.server}:{settings.port}"
    try:
        if settings.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.server, settings.port,
                                                  timeout=settings.timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
        with smtp:
            if settings.use_tls and not settings.use_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise DeliveryError(f"SMTP server {host} refused the login (check MAIL_USERNAME / "
                            "MAIL_PASSWORD)", permanent=True) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = {code for code, _ in exc.recipients.values()}
        permanent = all(code >= 500 for code in codes)
        raise DeliveryError(f"SMTP server {host} refused the recipient "
                            f"(code {', '.join(map(str, sorted(codes)))})",
                            permanent=permanent) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP server {host} answered {exc.smtp_code}",
                            permanent=exc.smtp_code >= 500) from None
    except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"cannot reach SMTP server {host}: "
                            f"{exc.__class__.__name__}: {one_line(str(exc), 120)}") from None
