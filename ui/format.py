"""Numbers for people, in the chosen language: 72.4 %, +3.1 pts, 1.2万 / 12.3k, 3 min 20 s."""

from __future__ import annotations

import math

from ui.i18n import Language, current_language


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_count(value: float | None, language: Language | None = None) -> str:
    """12345 -> '1.2万' (zh) / '12.3k' (en); small numbers in full with separators."""
    if _missing(value):
        return "–"
    language = language or current_language()
    number = float(value)  # type: ignore[arg-type]
    sign = "-" if number < 0 else ""
    number = abs(number)
    if language == "zh":
        if number >= 1e8:
            return f"{sign}{number / 1e8:.1f}亿"
        if number >= 1e4:
            return f"{sign}{number / 1e4:.1f}万"
    else:
        if number >= 1e9:
            return f"{sign}{number / 1e9:.1f}B"
        if number >= 1e6:
            return f"{sign}{number / 1e6:.1f}M"
        if number >= 1e4:
            return f"{sign}{number / 1e3:.1f}k"
    return f"{sign}{number:,.0f}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """A share given as a percentage (72.4 -> '72.4 %')."""
    return "–" if _missing(value) else f"{value:.{digits}f} %"


def fmt_points(value: float | None, digits: int = 1, language: Language | None = None) -> str:
    """A signed change in points: '+3.1 pts' / '+3.1 分'."""
    if _missing(value):
        return "–"
    unit = "分" if (language or current_language()) == "zh" else "pts"
    return f"{value:+.{digits}f} {unit}"


def fmt_score(value: float | None, digits: int = 1) -> str:
    """A score such as NPS (−100..100) or a mean; never a percentage."""
    return "–" if _missing(value) else f"{value:.{digits}f}"


def fmt_duration(seconds: float | None, language: Language | None = None) -> str:
    """200 -> '3 min 20 s' / '3 分 20 秒'."""
    if _missing(seconds):
        return "–"
    zh = (language or current_language()) == "zh"
    total = int(round(float(seconds)))  # type: ignore[arg-type]
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    units = ("小时", "分", "秒") if zh else ("h", "min", "s")
    parts = []
    if hours:
        parts.append(f"{hours} {units[0]}")
    if minutes:
        parts.append(f"{minutes} {units[1]}")
    if secs or not parts:
        parts.append(f"{secs} {units[2]}")
    return " ".join(parts[:2])
