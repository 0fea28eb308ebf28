"""The worker's job registry: the built-in alert jobs plus configured jobs of other parts (ETL, retention, ...).

A job is a plain function called with the keyword arguments it names among ``engine``, ``settings`` and ``now``.
Jobs of other packages are named by a dotted path (``"etl.pipeline:run_incremental"``) and imported only when the
worker starts, so alerts never imports their internals; add one with :func:`register` or ``--job`` on the command
line (``python -m alerts worker --job privacy.retention:enforce@86400``).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from alerts import delivery, escalation
from alerts import engine as alert_engine
from cx.db import transaction
from cx.errors import ConfigError
from cx.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: a stable id (APScheduler job id), the function, how often, and whether only the active
    worker (the lease holder) may run it."""

    id: str
    run: Callable[..., Any]
    every: timedelta
    leader_only: bool = True

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ConfigError(f"Job {self.id!r}: the interval must be positive")


def call(job: JobSpec, *, engine: Engine, settings: Settings, now: datetime) -> Any:
    """Call the job's function with the arguments it declares (engine, settings, now)."""
    offered = {"engine": engine, "settings": settings, "now": now}
    parameters = inspect.signature(job.run).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return job.run(**offered)
    return job.run(**{name: value for name, value in offered.items() if name in parameters})


# --------------------------------------------------------------------------------------------- built-in jobs


def evaluate_incremental(engine: Engine, settings: Settings, now: datetime) -> alert_engine.PassResult:
    return alert_engine.evaluate(engine, settings, now=now)


def evaluate_full(engine: Engine, settings: Settings, now: datetime) -> alert_engine.PassResult:
    return alert_engine.evaluate(engine, settings, now=now, full=True)


def escalate(engine: Engine, settings: Settings, now: datetime) -> int:
    with transaction(engine, immediate=True) as session:
        return len(escalation.escalate_due(session, settings, now))


def deliver(engine: Engine, settings: Settings, now: datetime) -> delivery.DeliveryResult:
    return delivery.deliver_due(engine, settings, now)


def builtin_jobs() -> list[JobSpec]:
    return [
        JobSpec("alerts.evaluate", evaluate_incremental, timedelta(minutes=1)),
        JobSpec("alerts.evaluate_full", evaluate_full, timedelta(minutes=5)),
        JobSpec("alerts.escalate", escalate, timedelta(seconds=30)),
        JobSpec("alerts.deliver", deliver, timedelta(seconds=15)),
    ]


# --------------------------------------------------------------------------------------------- other parts' jobs

#: Jobs of other packages, by dotted path and interval in seconds. Missing modules are skipped with a warning
#: (the ETL entry point arrives with the ETL part; retention with the privacy part).
EXTERNAL_JOBS: list[str] = ["etl.pipeline:run_incremental@300", "cx.retention:run_retention_job@86400"]


def register(path: str) -> None:
    """Add ``"package.module:function@seconds"`` to the jobs every worker started afterwards runs."""
    parse_path(path)
    if path not in EXTERNAL_JOBS:
        EXTERNAL_JOBS.append(path)


def parse_path(path: str) -> tuple[str, str, timedelta]:
    """``"etl.pipeline:run_incremental@300"`` -> (module, function, interval); ConfigError when malformed."""
    target, _, seconds = path.partition("@")
    module, _, function = target.partition(":")
    if not module or not function or not all(p.isidentifier() for p in [*module.split("."), function]):
        raise ConfigError(f"Job {path!r} is not 'package.module:function@seconds'")
    try:
        interval = timedelta(seconds=float(seconds or 300))
    except ValueError:
        raise ConfigError(f"Job {path!r}: the interval after @ must be a number of seconds") from None
    if interval <= timedelta(0):
        raise ConfigError(f"Job {path!r}: the interval must be positive")
    return module, function, interval


def resolve(path: str, *, strict: bool = False) -> JobSpec | None:
    """The job a dotted path names; when its module or function is not there (yet): None with a warning, or
    ConfigError when ``strict`` (a job asked for on the command line)."""
    module_name, function_name, interval = parse_path(path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if strict or not (exc.name and module_name.startswith(exc.name)):
            raise ConfigError(f"Job {path!r}: module {module_name} cannot be imported ({exc})") from None
        log.warning("job %s skipped: module %s is not available", path, module_name)
        return None
    function = getattr(module, function_name, None)
    if not callable(function):
        if strict:
            raise ConfigError(f"Job {path!r}: {module_name} has no function {function_name}")
        log.warning("job %s skipped: %s has no function %s", path, module_name, function_name)
        return None
    return JobSpec(f"{module_name}.{function_name}", function, interval)


def all_jobs(extra: list[str] | None = None) -> list[JobSpec]:
    """Built-in jobs, the available EXTERNAL_JOBS, and ``extra`` (which must resolve)."""
    jobs = builtin_jobs()
    for path in EXTERNAL_JOBS:
        job = resolve(path)
        if job is not None:
            jobs.append(job)
    jobs.extend(job for path in extra or [] if (job := resolve(path, strict=True)) is not None)
    return list({job.id: job for job in jobs}.values())
