"""KPI board configurations: validated tiles per department / role / person, defaults, load and save with versions.

A board is a list of tiles (a KPI of cx.kpi, its target, which direction is better and a warning band). Boards are
stored in ``board_configs`` under a scope key: ``department:<dept>`` and ``role:<role>`` (edited by admins) or
``user:<id>`` (a department head's own board). Which data a board shows is decided by :func:`board_scope`:
a department head only ever gets their own department, a team lead their team, admins and CX owners any department.
The executive board covers the whole store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx import audit
from cx.access import DEPARTMENTS, Principal, Role
from cx.authz import record_denied, require_audited
from cx.errors import ConflictError, PermissionDenied, ValidationError
from cx.kpi import KPIS, Direction
from cx.models import BoardConfig as BoardRow
from cx.types import utcnow

Status = Literal["good", "watch", "bad", "neutral"]
MAX_TILES: Final = 12
#: The department whose board covers every department (the executives').
WHOLE_STORE_DEPARTMENT: Final = "executive"
BREAKDOWNS: Final = ("channel", "stage", "touchpoint", "team", "agent_id")


class BoardConfigError(ValidationError):
    """A board configuration is invalid; ``problems`` lists every issue found."""


class BoardConflictError(ConflictError):
    """Someone saved this board since it was opened."""


@dataclass(frozen=True)
class Tile:
    """One KPI tile: ``target`` in the KPI's unit (None = no target), ``warning_band`` = how far on the wrong side
    of the target still counts as "watch" rather than "bad" (same unit)."""

    kpi: str
    target: float | None = None
    direction: Direction = "higher"
    warning_band: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"kpi": self.kpi, "target": self.target, "direction": self.direction, "warning_band": self.warning_band}


@dataclass(frozen=True)
class Board:
    """A validated board: its tiles in display order, where it came from, and its stored version (0 = built-in)."""

    scope_key: str
    tiles: tuple[Tile, ...]
    version: int = 0
    source: Literal["personal", "stored", "default"] = "default"

    @property
    def kpis(self) -> list[str]:
        return [tile.kpi for tile in self.tiles]

    def tile(self, kpi: str) -> Tile | None:
        return next((t for t in self.tiles if t.kpi == kpi), None)


@dataclass(frozen=True)
class BoardScope:
    """Which slice of the daily facts a board shows: one department, one team, or everything (both None)."""

    department: str | None = None
    team: str | None = None
    agent_level: bool = False
    scope_key: str = field(default="department:executive")


# --------------------------------------------------------------------------------------------- validation


def status(value: float | None, tile: Tile) -> Status:
    """good (on the right side of the target), watch (wrong side, within the band), bad (beyond it), neutral."""
    if value is None or tile.target is None:
        return "neutral"
    gap = value - tile.target if tile.direction == "higher" else tile.target - value
    if gap >= 0:
        return "good"
    return "watch" if -gap <= tile.warning_band else "bad"


def _number(raw: Any, what: str, problems: list[str]) -> float | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        problems.append(f"{what} must be a number, not {raw!r}")
        return None
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{what} must be a number, not {raw!r}")
        return None
    if value != value or value in (float("inf"), float("-inf")):
        problems.append(f"{what} must be a finite number")
        return None
    return value


def parse_tiles(raw: Any) -> tuple[Tile, ...]:
    """Tiles from their stored / edited form (a list of dicts); every problem is collected, then raised together."""
    problems: list[str] = []
    if not isinstance(raw, list | tuple):
        raise BoardConfigError("A board must be a list of tiles", [f"got {type(raw).__name__}"])
    if not raw:
        problems.append("a board needs at least one tile")
    if len(raw) > MAX_TILES:
        problems.append(f"a board shows at most {MAX_TILES} tiles, not {len(raw)}")
    tiles: list[Tile] = []
    seen: set[str] = set()
    for index, item in enumerate(raw, start=1):
        where = f"tile {index}"
        if isinstance(item, Tile):
            item = item.to_dict()
        if not isinstance(item, Mapping):
            problems.append(f"{where} must be a mapping with kpi, target, direction and warning_band")
            continue
        unknown = set(item) - {"kpi", "target", "direction", "warning_band"}
        if unknown:
            problems.append(f"{where}: unknown fields {sorted(unknown)}")
        key = item.get("kpi")
        if key not in KPIS:
            problems.append(f"{where}: unknown KPI {key!r}; use one of {', '.join(KPIS)}")
            continue
        if key in seen:
            problems.append(f"{where}: KPI {key!r} is on the board twice")
        seen.add(key)
        definition = KPIS[key]
        target = _number(item.get("target"), f"{where} ({key}) target", problems)
        low, high = definition.bounds
        if target is not None and ((low is not None and target < low) or (high is not None and target > high)):
            problems.append(f"{where} ({key}) target {target:g} is outside the KPI's range {low}..{high}")
        direction = item.get("direction") or definition.direction
        if direction not in ("higher", "lower"):
            problems.append(f"{where} ({key}) direction must be 'higher' or 'lower', not {direction!r}")
            direction = definition.direction
        band = _number(item.get("warning_band"), f"{where} ({key}) warning band", problems) or 0.0
        if band < 0:
            problems.append(f"{where} ({key}) warning band must not be negative")
        tiles.append(Tile(key, target, direction, max(band, 0.0)))
    if problems:
        raise BoardConfigError("The board is not valid", problems)
    return tuple(tiles)


# --------------------------------------------------------------------------------------------- defaults


def _t(kpi: str, target: float | None = None, band: float = 0.0) -> Tile:
    return Tile(kpi, target, KPIS[kpi].direction, band)


_STANDARD: Final = {
    "nps": _t("nps", 30, 10),
    "csat": _t("csat", 85, 5),
    "ces": _t("ces", 5.5, 0.5),
    "ces_agree_rate": _t("ces_agree_rate", 75, 5),
    "fcr": _t("fcr", 75, 5),
    "frt": _t("frt", 1800, 900),
    "aht": _t("aht", 420, 60),
    "asa": _t("asa", 30, 15),
    "abandonment": _t("abandonment", 5, 3),
    "abandonment_adjusted": _t("abandonment_adjusted", 4, 2),
    "service_level": _t("service_level", 80, 10),
    "digital_share": _t("digital_share", 60, 10),
    "complaint_rate": _t("complaint_rate", 5, 2),
    "repeat_rate": _t("repeat_rate", 15, 5),
    "backlog": _t("backlog"),
    "sla_breach_rate": _t("sla_breach_rate", 10, 5),
    "retention": _t("retention", 85, 5),
    "contact_volume": _t("contact_volume"),
    "complaint_volume": _t("complaint_volume"),
}


def _tiles(*keys: str) -> tuple[Tile, ...]:
    return tuple(_STANDARD[k] for k in keys)


#: Built-in boards, used until an admin stores another one for the scope.
DEFAULT_BOARDS: Final[dict[str, tuple[Tile, ...]]] = {
    "department:service": _tiles("fcr", "frt", "aht", "asa", "abandonment", "backlog", "service_level", "csat"),
    "department:product": _tiles("csat", "nps", "ces", "complaint_rate", "complaint_volume", "repeat_rate"),
    "department:marketing": _tiles("nps", "digital_share", "retention", "csat", "contact_volume", "complaint_rate"),
    "department:delivery": _tiles("csat", "complaint_rate", "fcr", "sla_breach_rate", "backlog", "repeat_rate"),
    "department:it": _tiles("ces", "csat", "complaint_rate", "fcr", "repeat_rate", "contact_volume"),
    "department:executive": _tiles(
        "nps", "csat", "ces", "fcr", "retention", "complaint_rate", "digital_share", "backlog"
    ),
    "role:team_lead": _tiles("aht", "fcr", "asa", "abandonment", "repeat_rate", "csat", "contact_volume"),
}


def default_tiles(scope_key: str) -> tuple[Tile, ...]:
    """The built-in tiles of a scope (the executive board for anything without its own default)."""
    return DEFAULT_BOARDS.get(scope_key, DEFAULT_BOARDS["department:executive"])


def scope_keys() -> list[str]:
    """Every scope an admin can edit: one per department, plus the team leads' board."""
    return [f"department:{d}" for d in DEPARTMENTS] + ["role:team_lead"]


# --------------------------------------------------------------------------------------------- who sees what


def board_scope(principal: Principal, requested_department: str | None = None) -> BoardScope:
    """The data a principal's board shows; a department head asking for another department is refused.

    Department heads: their department (the executive department: the whole store). Team leads: their team.
    Admins and CX owners: ``requested_department`` (default: the whole store).
    """
    agent_level = principal.can("kpi.agent_level")
    if principal.role == Role.DEPARTMENT_HEAD:
        own = principal.department
        if not own:
            raise PermissionDenied("Your account has no department; ask an admin to set it.")
        if requested_department not in (None, "", own):
            raise PermissionDenied(f"You may only open the board of your own department ({own}).")
        return _department_scope(own, agent_level)
    if principal.role == Role.TEAM_LEAD:
        if not principal.team:
            raise PermissionDenied("Your account has no team; ask an admin to set it.")
        if requested_department not in (None, ""):
            raise PermissionDenied("Team leads see their team's board only.")
        return BoardScope(team=principal.team, agent_level=agent_level, scope_key="role:team_lead")
    if principal.can("board.view_any_department"):
        if requested_department not in (None, "") and requested_department not in DEPARTMENTS:
            raise ValidationError(f"Unknown department {requested_department!r}; use one of {', '.join(DEPARTMENTS)}")
        return _department_scope(requested_department or WHOLE_STORE_DEPARTMENT, agent_level)
    raise PermissionDenied(f"Your role ({principal.role.value}) may not open KPI boards.")


def _department_scope(department: str, agent_level: bool) -> BoardScope:
    data_department = None if department == WHOLE_STORE_DEPARTMENT else department
    return BoardScope(department=data_department, agent_level=agent_level, scope_key=f"department:{department}")


def scope_refusal(principal: Principal | None, scope: BoardScope) -> str | None:
    """The action ``principal`` lacks to see ``scope``'s data, or None when it may (deny by default).

    board.view for any board; kpi.agent_level for a scope with figures per agent; a board other than one's own
    (a department head's department, a team lead's team) needs board.view_any_department.
    """
    if principal is None or not principal.can("board.view"):
        return "board.view"
    if scope.agent_level and not principal.can("kpi.agent_level"):
        return "kpi.agent_level"
    if principal.can("board.view_any_department"):
        return None
    try:
        own = board_scope(principal)
    except PermissionDenied:
        return "board.view"
    if (scope.department, scope.team, scope.scope_key) != (own.department, own.team, own.scope_key):
        return "board.view_any_department"
    return None


def require_scope(principal: Principal | None, scope: BoardScope) -> Principal:
    """:func:`scope_refusal` as a check: the principal, or PermissionDenied (not audited: see authorize_scope)."""
    missing = scope_refusal(principal, scope)
    if missing is not None:
        raise PermissionDenied(f"You may not see this board ({scope.scope_key}): it needs {missing}.")
    assert principal is not None
    return principal


def authorize_scope(session: Session, principal: Principal | None, scope: BoardScope) -> Principal:
    """Every board data function's first line: require board.view and the right to ``scope``; a refusal is audited
    (``<missing action>``, ``denied``, object ``board:<scope key>``) and raised as PermissionDenied."""
    require_audited(session, principal, "board.view", object_type="board", object_id=scope.scope_key)
    missing = scope_refusal(principal, scope)
    if missing is not None:
        record_denied(session, principal, missing, object_type="board", object_id=scope.scope_key)
        raise PermissionDenied(f"You may not see this board ({scope.scope_key}): it needs {missing}.")
    assert principal is not None
    return principal


# --------------------------------------------------------------------------------------------- store


def _row(session: Session, scope_key: str) -> BoardRow | None:
    return session.scalar(select(BoardRow).where(BoardRow.scope_key == scope_key))


def load_board(session: Session, principal: Principal, scope_key: str) -> Board:
    """The stored board of a scope, else its built-in default (version 0), for editing it: a principal's own
    personal board needs board.personalise, every other scope board.edit_defaults (viewers use :func:`board_for`).
    """
    _check_scope_key(scope_key)
    action = "board.personalise" if scope_key == personal_scope_key(principal) else "board.edit_defaults"
    require_audited(session, principal, action, object_type="board", object_id=scope_key)
    return _load(session, scope_key)


def _load(session: Session, scope_key: str) -> Board:
    row = _row(session, scope_key)
    if row is None:
        return Board(scope_key, default_tiles(scope_key), 0, "default")
    source: Literal["personal", "stored"] = "personal" if scope_key.startswith("user:") else "stored"
    return Board(scope_key, parse_tiles(row.tiles), row.version, source)


def board_for(session: Session, principal: Principal, scope: BoardScope) -> Board:
    """The board a principal sees for ``scope`` (checked: :func:`authorize_scope`): their own personal board when
    they have one for it."""
    authorize_scope(session, principal, scope)
    if principal.role == Role.DEPARTMENT_HEAD and _row(session, personal_scope_key(principal)) is not None:
        return _load(session, personal_scope_key(principal))
    return _load(session, scope.scope_key)


def personal_scope_key(principal: Principal) -> str:
    return f"user:{principal.user_id}"


def _check_scope_key(scope_key: str) -> None:
    kind, _, name = scope_key.partition(":")
    valid = (
        (kind == "department" and name in DEPARTMENTS)
        or (kind == "role" and name in {r.value for r in Role})
        or (kind == "user" and name.isdigit())
    )
    if not valid:
        raise BoardConfigError(f"Unknown board scope {scope_key!r}; use department:<name>, role:<role> or user:<id>")


def save_board(
    session: Session,
    principal: Principal,
    scope_key: str,
    tiles: Sequence[Tile | Mapping[str, Any]],
    *,
    expected_version: int,
) -> Board:
    """Validate and store a board; ``expected_version`` is the version it was opened at (0 = built-in).

    Admins save any scope; department heads only their own personal board (``user:<their id>``).
    """
    _check_scope_key(scope_key)
    if scope_key == personal_scope_key(principal):
        require_audited(session, principal, "board.personalise", object_type="board", object_id=scope_key)
    else:
        require_audited(session, principal, "board.edit_defaults", object_type="board", object_id=scope_key)
    parsed = parse_tiles(list(tiles))
    row = _row(session, scope_key)
    current = row.version if row is not None else 0
    if current != expected_version:
        raise BoardConflictError(
            f"This board was changed by someone else (now version {current}, you opened version {expected_version}). "
            "Reload it and make your change again."
        )
    stored = [tile.to_dict() for tile in parsed]
    if row is None:
        row = BoardRow(scope_key=scope_key, tiles=stored, version=1, updated_by=principal.user_id)
        session.add(row)
    else:
        row.tiles = stored
        row.version = current + 1
        row.updated_by = principal.user_id
        row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        principal,
        "board.save",
        object_type="board",
        object_id=scope_key,
        detail={"version": row.version, "kpis": [t.kpi for t in parsed]},
    )
    return Board(scope_key, parsed, row.version, "personal" if scope_key.startswith("user:") else "stored")


def reset_board(session: Session, principal: Principal, scope_key: str) -> Board:
    """Drop a stored board so the built-in default applies again (a personal board: back to the department's)."""
    _check_scope_key(scope_key)
    action = "board.personalise" if scope_key == personal_scope_key(principal) else "board.edit_defaults"
    require_audited(session, principal, action, object_type="board", object_id=scope_key)
    row = _row(session, scope_key)
    if row is not None:
        session.delete(row)
        audit.record(session, principal, "board.reset", object_type="board", object_id=scope_key)
    session.flush()
    return Board(scope_key, default_tiles(scope_key), 0, "default")


def with_tile_moved(tiles: Iterable[Tile], kpi: str, offset: int) -> tuple[Tile, ...]:
    """The tiles with ``kpi`` moved ``offset`` places (clamped), for the editors' up/down buttons."""
    items = list(tiles)
    index = next(i for i, t in enumerate(items) if t.kpi == kpi)
    tile = items.pop(index)
    items.insert(max(0, min(len(items), index + offset)), tile)
    return tuple(items)


def with_target(tiles: Iterable[Tile], kpi: str, **changes: Any) -> tuple[Tile, ...]:
    """The tiles with one tile's fields changed (validated again on save)."""
    return tuple(replace(t, **changes) if t.kpi == kpi else t for t in tiles)
