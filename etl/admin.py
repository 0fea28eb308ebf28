"""What an admin starts from the app: loading the bundled demo dataset (checked, audited, demo accounts made)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from cx import audit
from cx.access import Principal
from cx.auth import ensure_demo_users
from cx.authz import require_audited
from cx.db import transaction
from cx.settings import Settings
from etl.pipeline import Progress, RunSummary, load_demo


@dataclass(frozen=True)
class DemoLoad:
    summary: RunSummary
    accounts_created: list[str]


def load_demo_as(
    engine: Engine,
    principal: Principal | None,
    settings: Settings,
    *,
    customers: int,
    seed: int,
    progress: Progress | None = None,
) -> DemoLoad:
    """Load the demo dataset (etl.pipeline.load_demo) and create the demo accounts, if the principal may
    (``data.load_demo``; a refusal is audited and raises PermissionDenied before anything is generated)."""
    with transaction(engine) as session:
        principal = require_audited(session, principal, "data.load_demo", object_type="dataset", object_id="demo")
    summary = load_demo(engine, settings, customers=customers, seed=seed, progress=progress)
    with transaction(engine) as session:
        created = ensure_demo_users(session, settings)
        audit.record(
            session,
            principal,
            "data.load_demo",
            object_type="dataset",
            object_id="demo",
            detail={"customers": customers},
        )
    return DemoLoad(summary=summary, accounts_created=created)
