"""Business-hours arithmetic: when the next working period opens, and a duration counted in working time only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.rules import BusinessHours, RuleSpec


def _zone(hours: BusinessHours, default_tz: str) -> ZoneInfo:
    return ZoneInfo(hours.timezone or default_tz)


def is_open(moment: datetime, hours: BusinessHours, default_tz: str) -> bool:
    local = moment.astimezone(_zone(hours, default_tz))
    return local.weekday() in hours.days and hours.start <= local.time() < hours.end


def next_open(moment: datetime, hours: BusinessHours, default_tz: str) -> datetime:
    """``moment`` if within business hours, else the start of the next working period (UTC)."""
    zone = _zone(hours, default_tz)
    local = moment.astimezone(zone)
    for offset in range(0, 15):
        day = (local + timedelta(days=offset)).date()
        if day.weekday() not in hours.days:
            continue
        opens = datetime.combine(day, hours.start, zone)
        closes = datetime.combine(day, hours.end, zone)
        if local < closes:
            return max(local, opens).astimezone(UTC)
    return moment  # no working day at all within two weeks cannot happen with a validated rule


def add_business_time(start: datetime, duration: timedelta, hours: BusinessHours, default_tz: str) -> datetime:
    """The moment ``duration`` of business time after ``start`` (clocks stop outside business hours)."""
    zone = _zone(hours, default_tz)
    remaining = duration
    cursor = next_open(start, hours, default_tz)
    for _ in range(400):
        local = cursor.astimezone(zone)
        closes = datetime.combine(local.date(), hours.end, zone)
        available = closes - local
        if remaining <= available:
            return (local + remaining).astimezone(UTC)
        remaining -= available
        cursor = next_open(closes + timedelta(microseconds=1), hours, default_tz)
    return cursor


def applies(spec: RuleSpec) -> bool:
    """Whether the rule's business hours govern this alert (critical alerts ignore them unless told otherwise)."""
    hours = spec.business_hours
    return hours is not None and (spec.level != "critical" or hours.applies_to_critical)


def rule_time_after(spec: RuleSpec, start: datetime, duration: timedelta, default_tz: str) -> datetime:
    """``start`` + ``duration``, counted in business time when the rule's business hours apply."""
    if applies(spec):
        assert spec.business_hours is not None
        return add_business_time(start, duration, spec.business_hours, default_tz)
    return start + duration


def notify_not_before(spec: RuleSpec, now: datetime, default_tz: str) -> datetime | None:
    """When notices of this rule may go out (the next business period), or None for at once."""
    if applies(spec):
        assert spec.business_hours is not None
        return next_open(now, spec.business_hours, default_tz)
    return None
