"""The notification outbox: rows written in the same transaction as the alert event they announce.

One row per (dedup key, event, method, target), backed by a unique constraint, so an event is queued once however
often it is raised; the delivery job (alerts.delivery) sends pending rows with retries and backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alerts.routing import Recipient
from alerts.sql import insert_ignoring_conflicts
from cx.models import Alert, Notification

METHODS = ("inapp", "email", "webhook", "wecom", "dingtalk", "slack")
WEBHOOK_METHODS = ("webhook", "wecom", "dingtalk", "slack")


class Announced(Protocol):
    """What a notification tells about an alert: an Alert row, or the values of one just inserted in bulk."""

    @property
    def id(self) -> int: ...
    @property
    def dedup_key(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def entity_type(self) -> str: ...
    @property
    def entity_id(self) -> str: ...
    @property
    def touchpoint(self) -> str | None: ...


@dataclass(frozen=True)
class Channel:
    """How to notify: in-app, e-mail (to the recipients) or a webhook URL (generic JSON, WeCom, DingTalk, Slack)."""

    method: str
    url: str | None = None


def payload_for(alert: Announced, event: str, people: Sequence[Recipient], note: str | None = None) -> dict[str, Any]:
    """What every receiver gets: the alert's dedup key (the receiver's idempotency key), title, level, link."""
    return {
        "dedup_key": alert.dedup_key,
        "alert_id": alert.id,
        "event": event,
        "title": alert.title,
        "level": alert.level,
        "status": alert.status,
        "entity_type": alert.entity_type,
        "entity_id": alert.entity_id,
        "touchpoint": alert.touchpoint,
        "link": f"/alerts?alert={alert.id}",
        "note": note,
        "owners": [p.display_name for p in people],
        # For @mentions in WeCom / DingTalk robots (delivery only; never written to logs).
        "mention_phones": [p.phone for p in people if p.phone],
        "mention_user_ids": [p.username for p in people],
    }


def rows_for(
    alert: Announced,
    event: str,
    channels: Sequence[Channel],
    people: Sequence[Recipient],
    *,
    now: datetime,
    not_before: datetime | None = None,
    note: str | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows announcing ``event`` of ``alert`` on every channel to every recipient.

    In-app rows count as delivered at once (the inbox shows them); the others wait for the delivery job, not
    before ``not_before`` (business hours).
    """
    payload = payload_for(alert, event, people, note)
    rows: list[dict[str, Any]] = []
    for channel in channels:
        if channel.method == "inapp":
            targets = [f"user:{p.user_id}" for p in people]
        elif channel.method == "email":
            targets = [f"email:{p.email}" for p in people if p.email]
        elif channel.method in WEBHOOK_METHODS and channel.url:
            targets = [channel.url]
        else:
            targets = []
        inapp = channel.method == "inapp"
        for target in targets:
            rows.append(
                {
                    "alert_id": alert.id,
                    "dedup_key": alert.dedup_key,
                    "event": event,
                    "method": channel.method,
                    "target": target,
                    "payload": payload,
                    "status": "sent" if inapp else "pending",
                    "attempts": 0,
                    "next_attempt_at": now if inapp else max(now, not_before or now),
                    "created_at": now,
                    "sent_at": now if inapp else None,
                }
            )
    return rows


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Queue outbox rows; a row whose (dedup key, event, method, target) is queued already is skipped."""
    return len(
        insert_ignoring_conflicts(
            session, Notification, rows, ["dedup_key", "event", "method", "target"], returning="id"
        )
    )


def enqueue(
    session: Session,
    alert: Alert,
    event: str,
    channels: Sequence[Channel],
    people: Sequence[Recipient],
    *,
    now: datetime,
    not_before: datetime | None = None,
    note: str | None = None,
) -> int:
    """Queue ``event`` of ``alert`` for every channel and recipient; returns how many rows were new."""
    return insert_rows(session, rows_for(alert, event, channels, people, now=now, not_before=not_before, note=note))


def unread_count(session: Session, user_id: int) -> int:
    """In-app notifications for ``user_id`` not yet seen."""
    return (
        session.scalar(
            select(func.count()).where(
                Notification.method == "inapp",
                Notification.target == f"user:{user_id}",
                Notification.read_at.is_(None),
            )
        )
        or 0
    )


def mark_read(session: Session, user_id: int, alert_id: int, now: datetime) -> None:
    session.execute(
        update(Notification)
        .where(
            Notification.method == "inapp",
            Notification.target == f"user:{user_id}",
            Notification.alert_id == alert_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
    )
