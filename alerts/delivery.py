"""Delivering the outbox: e-mail over SMTP and webhooks (generic JSON, WeCom and DingTalk robots, Slack).

Sending is a chain of stages with the outbox row as the log (after alertmanager's notify pipeline):

1. claim — in a short transaction, due ``pending`` rows get ``attempts + 1`` and are pushed ``CLAIM`` into the future,
   so no other worker takes them while this one sends (PostgreSQL: ``FOR UPDATE SKIP LOCKED``);
2. send — outside any transaction, every message carrying the alert's dedup key (header ``Idempotency-Key`` /
   ``X-CX-Dedup-Key``, the JSON field ``dedup_key``, a deterministic e-mail ``Message-ID``);
3. record — ``sent``; or back to ``pending`` with exponential backoff; ``dead`` after MAX_ATTEMPTS (kept, with the
   last error, for an admin to retry).

A process killed after sending but before recording sends again once the claim expires: the receiver sees the
same key twice and keeps one (at-least-once delivery, exactly-once effect for receivers that honour the key).
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import phonenumbers
from sqlalchemy import Engine, select, update

from cx.db import transaction
from cx.errors import CxError
from cx.models import Notification
from cx.settings import Settings
from cx.types import utcnow

log = logging.getLogger(__name__)
CLAIM = timedelta(minutes=5)
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
BATCH = 50
MAX_ROUNDS = 20  # batches per run; the rest waits for the next run
TIMEOUT_S = 10

#: Notification texts per language (the worker runs without the web interface): (English, 简体中文).
TEXTS: dict[str, tuple[str, str]] = {
    "created": ("New alert", "新预警"),
    "escalated": ("Escalated alert", "预警已升级"),
    "assigned": ("Alert assigned to you", "预警已指派给您"),
    "level.info": ("info", "提示"),
    "level.warning": ("warning", "警告"),
    "level.critical": ("critical", "严重"),
    "open": ("Open", "查看"),
    "owners": ("Owner", "负责人"),
}


class DeliveryError(CxError):
    """A receiver refused or could not be reached; the notification is retried later."""


@dataclass(frozen=True)
class Outgoing:
    """A claimed outbox row, detached from the session while it is sent."""

    id: int
    dedup_key: str
    event: str
    method: str
    target: str
    payload: dict[str, Any]
    attempts: int

    @property
    def idempotency_key(self) -> str:
        return f"{self.dedup_key}|{self.event}"


@dataclass
class DeliveryResult:
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    dead: list[int] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 30 s, 1 min, 2 min, ... at most one hour."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), MAX_RETRY)


# --------------------------------------------------------------------------------------------- message text


def _text(key: str, language: str) -> str:
    english, chinese = TEXTS[key]
    return chinese if language == "zh" else english


def headline(payload: dict[str, Any], language: str) -> str:
    event = str(payload.get("event", "created")).split(":")[0]
    kind = event if event in ("created", "escalated", "assigned") else "created"
    level = _text(f"level.{payload.get('level', 'info')}", language)
    return f"[{_text(kind, language)} · {level}] {payload.get('title', '')}"


def body(payload: dict[str, Any], settings: Settings) -> str:
    language = settings.language
    lines = [headline(payload, language)]
    if payload.get("owners"):
        lines.append(f"{_text('owners', language)}: {', '.join(payload['owners'])}")
    if payload.get("note"):
        lines.append(str(payload["note"])[:500])
    lines.append(f"{_text('open', language)}: {settings.base_url.rstrip('/')}{payload.get('link', '')}")
    return "\n".join(lines)


def national_mobile(phone: str) -> str:
    """``+8613800138000`` -> ``13800138000`` (robots @mention by the number as people type it)."""
    try:
        return str(phonenumbers.parse(phone, None).national_number)
    except phonenumbers.NumberParseException:
        return phone


# --------------------------------------------------------------------------------------------- formats


def webhook_body(item: Outgoing, settings: Settings) -> dict[str, Any]:
    """The JSON each receiver type expects; every one carries the dedup key."""
    payload = item.payload
    text = body(payload, settings)
    phones = [national_mobile(p) for p in payload.get("mention_phones", [])]
    user_ids = list(payload.get("mention_user_ids", []))
    if item.method == "wecom":
        return {
            "msgtype": "text",
            "text": {"content": f"{text}\n[{item.dedup_key}]", "mentioned_mobile_list": phones},
        }
    if item.method == "dingtalk":
        mentions = " ".join(f"@{p}" for p in phones)
        return {
            "msgtype": "text",
            "text": {"content": f"{text}\n{mentions}\n[{item.dedup_key}]".strip()},
            "at": {"atMobiles": phones, "atUserIds": user_ids, "isAtAll": False},
        }
    if item.method == "slack":
        return {"text": f"{text}\n`{item.dedup_key}`"}
    return {**{k: v for k, v in payload.items() if k != "mention_phones"}, "text": text, "event": item.event}


def post_json(url: str, data: dict[str, Any], headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(
        url,
        data=json.dumps(data, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # a configured http(s) URL
            return response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{host_of(url)} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"{host_of(url)} could not be reached: {getattr(exc, 'reason', exc)}") from None


def host_of(url: str) -> str:
    """The receiver named without its path or query (robot keys live there)."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}"


def send_webhook(item: Outgoing, settings: Settings) -> None:
    headers = {"Idempotency-Key": item.idempotency_key, "X-CX-Dedup-Key": item.dedup_key}
    answer = post_json(item.target, webhook_body(item, settings), headers)
    if item.method in ("wecom", "dingtalk"):
        try:
            code = json.loads(answer.decode("utf-8") or "{}").get("errcode", 0)
        except (ValueError, AttributeError):
            code = "unreadable answer"
        if code not in (0, "0"):
            raise DeliveryError(f"{host_of(item.target)} refused the message (errcode {code})")


def send_email(item: Outgoing, settings: Settings) -> None:
    if not settings.smtp_host:
        raise DeliveryError("No SMTP server is configured; set CX_SMTP_HOST")
    address = item.target.removeprefix("email:")
    message = EmailMessage()
    message["Subject"] = headline(item.payload, settings.language)
    message["From"] = settings.smtp_sender
    message["To"] = address
    digest = hashlib.sha256(item.idempotency_key.encode("utf-8")).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@cx-journey>"
    message["X-CX-Dedup-Key"] = item.dedup_key
    message.set_content(body(item.payload, settings) + f"\n\n[{item.dedup_key}]")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port} failed: {exc}") from None


Sender = Callable[[Outgoing, Settings], None]
SENDERS: dict[str, Sender] = {
    "email": send_email,
    "webhook": send_webhook,
    "wecom": send_webhook,
    "dingtalk": send_webhook,
    "slack": send_webhook,
}


# --------------------------------------------------------------------------------------------- the stages


def claim(engine: Engine, now: datetime, limit: int = BATCH) -> list[Outgoing]:
    """Take due pending rows for this worker (stage 1)."""
    with transaction(engine, immediate=True) as session:  # reads, then writes: take SQLite's write lock first
        locking = {"skip_locked": True} if session.get_bind().dialect.name == "postgresql" else {}
        rows = session.scalars(
            select(Notification)
            .where(Notification.status == "pending", Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
            .with_for_update(**locking)
        ).all()
        claimed = []
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + CLAIM
            claimed.append(
                Outgoing(row.id, row.dedup_key, row.event, row.method, row.target, row.payload, row.attempts)
            )
        return claimed


def record(engine: Engine, item: Outgoing, error: str | None, now: datetime) -> str:
    """Write the outcome of one attempt (stage 3); returns the new status."""
    if error is None:
        status, values = "sent", {"status": "sent", "sent_at": now, "last_error": None}
    elif item.attempts >= MAX_ATTEMPTS:
        status, values = "dead", {"status": "dead", "last_error": error[:1000]}
    else:
        status = "pending"
        values = {"next_attempt_at": now + backoff(item.attempts), "last_error": error[:1000]}
    with transaction(engine) as session:
        session.execute(
            update(Notification).where(Notification.id == item.id, Notification.status == "pending").values(**values)
        )
    return status


def deliver_due(
    engine: Engine, settings: Settings, now: datetime | None = None, *, senders: dict[str, Sender] | None = None
) -> DeliveryResult:
    """Send every due notification once (one attempt each, up to MAX_ROUNDS batches); failures wait for backoff."""
    now = now or utcnow()
    senders = senders or SENDERS
    result = DeliveryResult()
    for _round in range(MAX_ROUNDS):
        batch = claim(engine, now)
        if not batch:
            break
        for item in batch:
            _send_one(engine, settings, item, now, senders, result)
    return result


def _send_one(
    engine: Engine,
    settings: Settings,
    item: Outgoing,
    now: datetime,
    senders: dict[str, Sender],
    result: DeliveryResult,
) -> None:
    sender = senders.get(item.method)
    error = None
    try:
        if sender is None:
            raise DeliveryError(f"No sender for the method {item.method!r}")
        sender(item, settings)
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:  # a receiver bug must not lose the row: keep it for a retry, with the reason
        log.exception("notification %s failed unexpectedly", item.id)
        error = f"{type(exc).__name__}: {exc}"
    status = record(engine, item, error, now)
    if status == "sent":
        result.sent.append(item.id)
    elif status == "dead":
        result.dead.append(item.id)
    else:
        result.failed[item.id] = error or ""


def retry_dead(engine: Engine, now: datetime | None = None) -> int:
    """Put every dead notification back in the queue (after fixing the receiver); returns how many."""
    with transaction(engine) as session:
        result = session.execute(
            update(Notification)
            .where(Notification.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now or utcnow())
        )
        return result.rowcount or 0
