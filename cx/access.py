"""Roles, the role x page x action matrix (deny by default), the signed-in principal and the PII masking policy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cx.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    DEPARTMENT_HEAD = "department_head"
    CX_OWNER = "cx_owner"
    TEAM_LEAD = "team_lead"
    AGENT = "agent"


DEPARTMENTS: Final = ("service", "product", "marketing", "delivery", "it", "executive")


@dataclass(frozen=True)
class Principal:
    """The signed-in person as the server knows them on this rerun (re-read from the store every rerun)."""

    user_id: int
    username: str
    display_name: str
    role: Role
    department: str | None = None
    team: str | None = None
    session_id: str | None = None

    def can(self, action: str) -> bool:
        return action in ACTIONS_BY_ROLE.get(self.role, frozenset())

    def may_open(self, page: str) -> bool:
        return self.role in PAGES.get(page, frozenset())


_ALL: Final = frozenset(Role)

#: Page key -> roles that may open it. A page missing here opens for nobody.
PAGES: Final[dict[str, frozenset[Role]]] = {
    "home": _ALL,
    "board": frozenset({Role.ADMIN, Role.DEPARTMENT_HEAD, Role.CX_OWNER, Role.TEAM_LEAD}),
    "board_settings": frozenset({Role.ADMIN}),
    "journey": _ALL,
    "alerts": _ALL,
    "rules": frozenset({Role.ADMIN, Role.CX_OWNER}),
    "customers": frozenset({Role.ADMIN, Role.CX_OWNER, Role.TEAM_LEAD, Role.AGENT}),
    "voc": _ALL,
    "team": frozenset({Role.ADMIN, Role.TEAM_LEAD}),
    "data": frozenset({Role.ADMIN}),
    "users": frozenset({Role.ADMIN}),
    "audit": frozenset({Role.ADMIN}),
}

#: Action -> roles allowed to do it. Services call ``require(principal, action)`` before acting.
ACTIONS: Final[dict[str, frozenset[Role]]] = {
    "overview.view": PAGES["home"],  # store-wide counts on the home page (no personal data)
    "board.view": PAGES["board"],
    "board.view_any_department": frozenset({Role.ADMIN, Role.CX_OWNER}),
    "board.edit_defaults": frozenset({Role.ADMIN}),
    "board.personalise": frozenset({Role.DEPARTMENT_HEAD, Role.ADMIN}),
    "kpi.agent_level": frozenset({Role.ADMIN, Role.TEAM_LEAD, Role.CX_OWNER}),
    "journey.view": PAGES["journey"],
    "journey.edit": frozenset({Role.ADMIN, Role.CX_OWNER}),
    "alert.view_own": _ALL,
    "alert.view_team": frozenset({Role.ADMIN, Role.CX_OWNER, Role.TEAM_LEAD, Role.DEPARTMENT_HEAD}),
    "alert.view_all": frozenset({Role.ADMIN, Role.CX_OWNER}),
    "alert.act": _ALL,
    "alert.raise": frozenset({Role.ADMIN, Role.CX_OWNER, Role.TEAM_LEAD, Role.AGENT}),
    #: list the people and teams that may own an alert (owner pickers: assign, escalate, route by a rule)
    "alert.assign": _ALL,
    "rule.view": PAGES["rules"],
    "rule.edit": frozenset({Role.ADMIN, Role.CX_OWNER}),
    "profile.search": PAGES["customers"],
    "profile.view": PAGES["customers"],
    "profile.note": PAGES["customers"],
    "profile.split_join": frozenset({Role.ADMIN, Role.CX_OWNER}),
    "profile.export": frozenset({Role.ADMIN, Role.CX_OWNER}),
    "voc.view": PAGES["voc"],
    "voc.edit_dictionary": frozenset({Role.ADMIN}),
    "team.view": PAGES["team"],
    "data.export": frozenset({Role.ADMIN, Role.DEPARTMENT_HEAD, Role.CX_OWNER, Role.TEAM_LEAD}),
    "data.admin": frozenset({Role.ADMIN}),
    "data.load_demo": frozenset({Role.ADMIN}),
    "user.admin": frozenset({Role.ADMIN}),
    "audit.view": frozenset({Role.ADMIN}),
    "privacy.erase": frozenset({Role.ADMIN}),
}

ACTIONS_BY_ROLE: Final[dict[Role, frozenset[str]]] = {
    role: frozenset(action for action, roles in ACTIONS.items() if role in roles) for role in Role
}


def require(principal: Principal | None, action: str) -> Principal:
    """Return the principal if it may do ``action``; raise PermissionDenied otherwise (deny by default)."""
    if principal is None:
        raise PermissionDenied("Please sign in first.")
    if action not in ACTIONS:
        raise PermissionDenied(f"Unknown action {action!r} is denied.")
    if not principal.can(action):
        raise PermissionDenied(f"Your role ({principal.role.value}) may not do this ({action}).")
    return principal


def require_page(principal: Principal | None, page: str) -> Principal:
    """Return the principal if it may open ``page``; raise PermissionDenied otherwise."""
    if principal is None:
        raise PermissionDenied("Please sign in first.")
    if not principal.may_open(page):
        raise PermissionDenied(f"Your role ({principal.role.value}) may not open this page ({page}).")
    return principal


def pages_for(role: Role) -> list[str]:
    """The page keys a role may open, in navigation order."""
    return [page for page, roles in PAGES.items() if role in roles]


# --------------------------------------------------------------------------------------------- masking

PII_FIELDS: Final = ("name", "phone", "email", "wechat_id", "address", "birth_date", "social_handle")

#: Role -> fields shown unmasked. Everything else in PII_FIELDS is masked for that role.
UNMASKED_FIELDS: Final[dict[Role, frozenset[str]]] = {
    Role.ADMIN: frozenset(PII_FIELDS),
    Role.CX_OWNER: frozenset(PII_FIELDS),
    Role.TEAM_LEAD: frozenset({"name"}),
    Role.AGENT: frozenset({"name"}),
    Role.DEPARTMENT_HEAD: frozenset(),
}


def sees_unmasked(role: Role, field: str) -> bool:
    return field in UNMASKED_FIELDS.get(role, frozenset())


def mask_phone(value: str) -> str:
    """``+8613800138000`` -> ``138****8000`` (national digits, middle hidden)."""
    digits = re.sub(r"\D", "", value)
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) >= 10 else 1
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


def mask_email(value: str) -> str:
    """``zhang.wei@example.com`` -> ``z***@example.com``."""
    local, at, domain = value.partition("@")
    if not at:
        return mask_text(value)
    return (local[:1] or "*") + "***@" + domain


def mask_name(value: str) -> str:
    """``王伟`` -> ``王*``; ``Emily Chen`` -> ``E**** C***`` (first letter of each part kept)."""
    parts = value.split()
    if len(parts) > 1:
        return " ".join(p[:1] + "*" * (len(p) - 1) for p in parts)
    return value[:1] + "*" * max(len(value) - 1, 1)


def mask_text(value: str) -> str:
    """Any other identifier: first two and last two characters kept."""
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


_MASKERS = {"phone": mask_phone, "email": mask_email, "name": mask_name}


def mask_value(field: str, value: object, role: Role) -> object:
    """``value`` as ``role`` may see it: unchanged, masked, or hidden (birth dates become None)."""
    if value is None or sees_unmasked(role, field) or field not in PII_FIELDS:
        return value
    if field == "birth_date":
        return None
    return _MASKERS.get(field, mask_text)(str(value))
