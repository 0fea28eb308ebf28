"""Notification delivery to real receivers on 127.0.0.1: retries with backoff, exactly one delivery, formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from alerts import delivery
from alerts import engine as alert_engine
from cx.db import transaction
from cx.models import Alert, Notification
from tests.alerts.harness import load_interactions, save_rules
from tests.alerts.receivers import SmtpServer, WebhookServer

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def webhook():
    server = WebhookServer().start()
    yield server
    server.stop()


def _rule(notify: list[dict], owners: list[dict] | None = None) -> dict:
    return {
        "name": "complaint alert",
        "level": "critical",
        "scope": {"kind": "interaction"},
        "condition": {"field": "kind", "op": "eq", "value": "complaint"},
        "notify": notify,
        "owners": owners if owners is not None else [{"user": "owner"}],
    }


def _raise(engine, settings, rule) -> str:
    save_rules(engine, [rule])
    load_interactions(engine, [{"id": "n1", "at": T0 - timedelta(minutes=1), "kind": "complaint", "profile": "P-1"}])
    assert alert_engine.evaluate(engine, settings, now=T0).created == 1
    with transaction(engine) as s:
        return s.scalar(select(Alert.dedup_key))


def _notice(engine, method: str) -> Notification:
    with transaction(engine) as s:
        return s.scalars(select(Notification).where(Notification.method == method)).one()


def test_receiver_failing_twice_then_succeeding_gets_it_exactly_once(engine, settings, people, webhook) -> None:
    webhook.fail_first = 2
    key = _raise(engine, settings, _rule([{"method": "webhook", "url": webhook.url()}]))
    assert delivery.deliver_due(engine, settings, T0).failed  # attempt 1: HTTP 500
    assert "answered HTTP 500" in _notice(engine, "webhook").last_error
    assert delivery.deliver_due(engine, settings, T0 + timedelta(seconds=10)).sent == []  # backing off (30 s)
    assert delivery.deliver_due(engine, settings, T0 + timedelta(seconds=31)).failed  # attempt 2
    assert delivery.deliver_due(engine, settings, T0 + timedelta(seconds=80)).sent == []  # backing off (1 min)
    assert delivery.deliver_due(engine, settings, T0 + timedelta(seconds=92)).sent  # attempt 3 succeeds
    for minutes in (5, 60, 600):  # nothing is ever sent again
        result = delivery.deliver_due(engine, settings, T0 + timedelta(minutes=minutes))
        assert result.sent == [] and result.failed == {}
    assert len(webhook.requests) == 3 and len(webhook.accepted) == 1
    assert {r.body["dedup_key"] for r in webhook.requests} == {key}
    assert {r.headers["x-cx-dedup-key"] for r in webhook.requests} == {key}
    notice = _notice(engine, "webhook")
    assert notice.status == "sent" and notice.attempts == 3 and notice.dedup_key == key


def test_email_over_real_smtp_carries_the_key(engine, settings, people) -> None:
    smtp = SmtpServer().start()
    try:
        configured = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=smtp.port, language="en")
        key = _raise(engine, configured, _rule([{"method": "email"}]))
        assert delivery.deliver_due(engine, configured, T0).sent
        assert delivery.deliver_due(engine, configured, T0 + timedelta(hours=1)).sent == []
    finally:
        smtp.stop()
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "owner@example.com" and message["X-CX-Dedup-Key"] == key
    assert message["Subject"].startswith("[New alert · critical] complaint alert")
    assert "http://localhost:8501/alerts?alert=" in message.get_content()


def test_email_without_smtp_settings_waits_with_a_clear_reason(engine, settings, people) -> None:
    _raise(engine, settings, _rule([{"method": "email"}]))
    delivery.deliver_due(engine, settings, T0)
    notice = _notice(engine, "email")
    assert notice.status == "pending" and notice.last_error == "No SMTP server is configured; set CX_SMTP_HOST"


def test_wecom_and_dingtalk_mention_the_owner(engine, settings, people, webhook) -> None:
    _raise(
        engine,
        settings,
        _rule(
            [
                {"method": "wecom", "url": webhook.url("/wecom")},
                {"method": "dingtalk", "url": webhook.url("/dingtalk")},
                {"method": "slack", "url": webhook.url("/slack")},
            ]
        ),
    )
    assert len(delivery.deliver_due(engine, settings, T0).sent) == 3
    by_path = {r.path: r.body for r in webhook.requests}
    wecom, dingtalk, slack = by_path["/wecom"], by_path["/dingtalk"], by_path["/slack"]
    assert wecom["msgtype"] == "text" and wecom["text"]["mentioned_mobile_list"] == ["13800138001"]
    assert "complaint alert" in wecom["text"]["content"]
    assert dingtalk["at"] == {"atMobiles": ["13800138001"], "atUserIds": ["owner"], "isAtAll": False}
    assert "@13800138001" in dingtalk["text"]["content"]
    assert "complaint alert" in slack["text"]


def test_robot_refusal_is_a_failure_and_is_retried(engine, settings, people, webhook) -> None:
    webhook.answer = {"errcode": 310000, "errmsg": "keywords not in content"}
    _raise(engine, settings, _rule([{"method": "dingtalk", "url": webhook.url("/dingtalk")}]))
    result = delivery.deliver_due(engine, settings, T0)
    assert list(result.failed.values()) == [f"{webhook.url('')} refused the message (errcode 310000)"]


def test_unreachable_receiver_loses_nothing_then_dead_then_retried(engine, settings, people, webhook) -> None:
    url = webhook.url()
    webhook.stop()
    _raise(engine, settings, _rule([{"method": "webhook", "url": url}]))
    now = T0
    for _ in range(delivery.MAX_ATTEMPTS):
        delivery.deliver_due(engine, settings, now)
        now += delivery.MAX_RETRY
    notice = _notice(engine, "webhook")
    assert notice.status == "dead" and notice.attempts == delivery.MAX_ATTEMPTS
    assert "could not be reached" in notice.last_error
    assert delivery.retry_dead(engine, now) == 1 and _notice(engine, "webhook").status == "pending"


def test_inapp_notice_is_shown_at_once(engine, settings, people) -> None:
    _raise(engine, settings, _rule([{"method": "inapp"}]))
    notice = _notice(engine, "inapp")
    assert notice.status == "sent" and notice.target == f"user:{people['owner'].user_id}"
