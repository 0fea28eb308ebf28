"""Alert levels, statuses and the allowed lifecycle transitions (open → acknowledged → in_progress → resolved → closed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Final, Literal

Level = Literal["info", "warning", "critical"]
LEVELS: Final[tuple[str, ...]] = ("info", "warning", "critical")
#: Sort order in the inbox: critical first.
LEVEL_RANK: Final[dict[str, int]] = {"critical": 0, "warning": 1, "info": 2}

STATUSES: Final[tuple[str, ...]] = ("open", "acknowledged", "in_progress", "resolved", "closed")
OPEN_STATUSES: Final[tuple[str, ...]] = ("open", "acknowledged", "in_progress")

#: action -> (statuses it may start from, status it leads to). Comment and assign keep the status.
TRANSITIONS: Final[dict[str, tuple[frozenset[str], str]]] = {
    "acknowledge": (frozenset({"open"}), "acknowledged"),
    "start": (frozenset({"open", "acknowledged"}), "in_progress"),
    "resolve": (frozenset({"open", "acknowledged", "in_progress"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
    "reopen": (frozenset({"resolved", "closed"}), "open"),
}

#: Default time to acknowledge (SLA countdown in the inbox) when a rule does not set one.
DEFAULT_ACK_WITHIN: Final[dict[str, timedelta]] = {
    "critical": timedelta(minutes=30),
    "warning": timedelta(hours=4),
    "info": timedelta(hours=24),
}
#: Default time to resolve once acknowledged.
DEFAULT_RESOLVE_WITHIN: Final[dict[str, timedelta]] = {
    "critical": timedelta(hours=4),
    "warning": timedelta(hours=24),
    "info": timedelta(hours=72),
}
