"""The filter every analytical page shares: a date range and optional channel, stage, touchpoint and segment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from cx.errors import ValidationError
from cx.schema import CHANNELS

PRESETS = ("last_7", "last_30", "last_90", "this_month", "this_quarter", "custom")


@dataclass(frozen=True)
class Filters:
    """Inclusive date range (in the store's time zone) plus optional dimension filters (empty = all)."""

    start: date
    end: date
    channels: tuple[str, ...] = field(default_factory=tuple)
    stages: tuple[str, ...] = field(default_factory=tuple)
    touchpoints: tuple[str, ...] = field(default_factory=tuple)
    segments: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        problems = []
        if self.start > self.end:
            problems.append(f"the start date {self.start} is after the end date {self.end}")
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown:
            problems.append(f"unknown channels {unknown}; use {', '.join(CHANNELS)}")
        if problems:
            raise ValidationError("The filter is not valid", problems)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous_period(self) -> Filters:
        """The same number of days right before this range (for "change vs previous period")."""
        return self.shifted(days=self.days)

    def shifted(self, *, days: int = 0, years: int = 0, months: int = 0) -> Filters:
        """This filter moved back by ``days``, or by whole months / years (for MoM and YoY)."""
        if months or years:
            start, end = _shift_months(self.start, months + 12 * years), _shift_months(self.end, months + 12 * years)
        else:
            start, end = self.start - timedelta(days=days), self.end - timedelta(days=days)
        return Filters(start, end, self.channels, self.stages, self.touchpoints, self.segments)


def _shift_months(day: date, months: int) -> date:
    """``day`` moved back by ``months`` months, clamped to the month's last day (Mar 31 -> Feb 28/29)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    for candidate_day in range(day.day, 27, -1) if day.day > 28 else [day.day]:
        try:
            return date(year, month, candidate_day)
        except ValueError:
            continue
    return date(year, month, 28)


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """The date range of a preset, ending today."""
    if preset == "last_7":
        return today - timedelta(days=6), today
    if preset == "last_30":
        return today - timedelta(days=29), today
    if preset == "last_90":
        return today - timedelta(days=89), today
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "this_quarter":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    raise ValidationError(f"Unknown date preset {preset!r}; use one of {', '.join(PRESETS[:-1])}")
