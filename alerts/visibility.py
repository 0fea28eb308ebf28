"""Which alerts a principal may see: their own, their team's / department's, or all (cx.access alert.view_*)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from cx.access import Principal
from cx.errors import NotFoundError, PermissionDenied
from cx.models import Alert, User

SCOPES = ("mine", "team", "all")


def allowed_scopes(principal: Principal) -> list[str]:
    """The inbox tabs this principal may open, in order."""
    scopes = []
    if principal.can("alert.view_own"):
        scopes.append("mine")
    if principal.can("alert.view_team") and (principal.team or principal.department or principal.can("alert.view_all")):
        scopes.append("team")
    if principal.can("alert.view_all"):
        scopes.append("all")
    return scopes


def _mine(principal: Principal) -> ColumnElement[bool]:
    return or_(Alert.owner_user_id == principal.user_id, Alert.created_by == principal.user_id)


def _team(principal: Principal) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = [_mine(principal)]
    if principal.team:
        members = select(User.id).where(User.team == principal.team).scalar_subquery()
        clauses += [Alert.owner_team == principal.team, Alert.owner_user_id.in_(members)]
    if principal.department:
        clauses.append(Alert.owner_department == principal.department)
    return or_(*clauses)


def scope_filter(principal: Principal, scope: str) -> ColumnElement[bool]:
    """SQL condition selecting the alerts of ``scope`` (mine / team / all) that ``principal`` may see."""
    if scope not in allowed_scopes(principal):
        raise PermissionDenied(f"Your role ({principal.role.value}) may not list the {scope!r} alerts.")
    if scope == "mine":
        return _mine(principal)
    if scope == "team":
        return _team(principal) if (principal.team or principal.department) else true()
    return true()


def visible_filter(principal: Principal) -> ColumnElement[bool]:
    """Everything this principal may see (the widest scope allowed)."""
    scopes = allowed_scopes(principal)
    if not scopes:
        return false()
    return scope_filter(principal, scopes[-1])


def get_visible(session: Session, principal: Principal, alert_id: int, *, for_update: bool = False) -> Alert:
    """The alert, if ``principal`` may see it; NotFoundError otherwise (never reveals that it exists)."""
    query = select(Alert).where(Alert.id == alert_id, visible_filter(principal))
    if for_update:
        query = query.with_for_update()
    alert = session.scalar(query)
    if alert is None:
        raise NotFoundError(f"There is no alert #{alert_id} you may see; check the number or ask a CX owner.")
    return alert
