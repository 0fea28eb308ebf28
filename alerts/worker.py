"""The scheduled worker: APScheduler 3.x jobs (ETL, evaluation, escalation, delivery) gated by a database lease.

Every worker process keeps its own in-memory job store (APScheduler 3.x job stores must not be shared between
processes); the lease row in the store decides which worker is active. Jobs have explicit ids, coalesce missed
runs into one and never overlap (``max_instances=1``). ``start_embedded(settings)`` runs one worker inside the app
process for the embedded SQLite default — once per process, whatever the number of browser sessions.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine

from alerts import jobs as job_registry
from alerts import lease
from alerts.jobs import JobSpec
from cx.db import get_engine, transaction
from cx.errors import CxError
from cx.settings import Settings
from cx.types import utcnow

log = logging.getLogger(__name__)
LEASE_TTL = timedelta(seconds=60)
LEASE_RENEW = timedelta(seconds=15)


@dataclass
class JobRun:
    """The last run of a job in this process."""

    at: datetime
    ok: bool
    message: str


def holder_id() -> str:
    """Who this worker is in the lease row: host, process and a random part (a restarted process is new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs jobs while it holds the lease. Time is passed in (``now``) so tests control the clock."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        jobs: list[JobSpec] | None = None,
        *,
        holder: str | None = None,
        lease_ttl: timedelta = LEASE_TTL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.jobs = {job.id: job for job in (jobs if jobs is not None else job_registry.all_jobs())}
        self.holder = holder or holder_id()
        self.lease_ttl = lease_ttl
        self.clock = clock
        self.lease_until: datetime | None = None
        self.runs: dict[str, JobRun] = {}
        self.scheduler: BaseScheduler | None = None
        self.stopped = False
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------------------- lease

    def hold_lease(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; True while this worker is the active one."""
        if self.stopped:
            return False
        now = now or self.clock()
        try:
            with transaction(self.engine) as session:
                held = lease.acquire(session, self.holder, now, self.lease_ttl)
        except Exception as exc:  # the database may be briefly unreachable: stay passive, keep the process alive
            log.warning("lease renewal failed: %s", exc)
            held = False
        if held and self.lease_until is None:
            log.info("worker %s is now the active worker", self.holder)
        self.lease_until = now + self.lease_ttl if held else None
        return held

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or self.clock()
        return self.lease_until is not None and now < self.lease_until

    def release(self) -> None:
        with transaction(self.engine) as session:
            lease.release(session, self.holder)
        self.lease_until = None

    # ----------------------------------------------------------------------------------------- jobs

    def run_job(self, job_id: str, now: datetime | None = None) -> Any:
        """Run one job now if this worker may (leader-only jobs need the lease); returns the job's result."""
        now = now or self.clock()
        job = self.jobs[job_id]
        if job.leader_only and not self.is_active(now):
            return None
        try:
            result = job_registry.call(job, engine=self.engine, settings=self.settings, now=now)
        except CxError as exc:
            self.runs[job_id] = JobRun(now, False, str(exc))
            log.warning("job %s failed: %s", job_id, exc)
            return None
        except Exception as exc:  # keep the worker alive; the job runs again at its next time
            self.runs[job_id] = JobRun(now, False, f"{type(exc).__name__}: {exc}")
            log.exception("job %s failed", job_id)
            return None
        self.runs[job_id] = JobRun(now, True, _summary(result))
        return result

    def tick(self, now: datetime | None = None) -> dict[str, Any]:
        """Renew the lease and run every job once (the command line's ``--once`` and the tests)."""
        now = now or self.clock()
        self.hold_lease(now)
        return {job_id: self.run_job(job_id, now) for job_id in self.jobs}

    # ----------------------------------------------------------------------------------------- scheduler

    def build_scheduler(self, *, blocking: bool) -> BaseScheduler:
        scheduler_class = BlockingScheduler if blocking else BackgroundScheduler
        scheduler = scheduler_class(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        start = self.clock()
        scheduler.add_job(
            self.hold_lease,
            "interval",
            seconds=LEASE_RENEW.total_seconds(),
            id="alerts.lease",
            next_run_time=start,
            replace_existing=True,
        )
        for job in self.jobs.values():
            scheduler.add_job(
                self.run_job,
                "interval",
                args=[job.id],
                seconds=job.every.total_seconds(),
                id=job.id,
                next_run_time=start + timedelta(seconds=2),
                replace_existing=True,
            )
        return scheduler

    def start(self, *, blocking: bool) -> None:
        with self._lock:
            if self.scheduler is not None:
                return
            self.scheduler = self.build_scheduler(blocking=blocking)
        log.info("alert worker %s starting with jobs %s", self.holder, ", ".join(self.jobs))
        self.scheduler.start()

    def shutdown(self) -> None:
        with self._lock:
            scheduler, self.scheduler = self.scheduler, None
            already, self.stopped = self.stopped, True
        if already:
            return
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        if self.lease_until is None:
            return  # not holding it (or released already)
        try:
            self.release()
        except Exception as exc:  # shutting down: the lease expires by itself
            log.warning("could not release the lease: %s", exc)


def _summary(result: Any) -> str:
    if result is None:
        return "ok"
    if hasattr(result, "created"):
        return f"{result.created} alerts created"
    if hasattr(result, "sent"):
        return f"{len(result.sent)} sent, {len(result.failed)} to retry, {len(result.dead)} dead"
    return str(result)[:200]


# --------------------------------------------------------------------------------------------- embedded

_embedded: Worker | None = None
_embedded_lock = threading.Lock()


def start_embedded(settings: Settings) -> Worker | None:
    """Start the worker inside this (app) process when ``settings.embedded_worker_enabled`` (default: SQLite).

    Idempotent: the first call starts one background worker for the process, later calls return it. The app calls
    this once per process (e.g. next to opening the store); never per browser session.
    """
    global _embedded
    if not settings.embedded_worker_enabled:
        return None
    with _embedded_lock:
        if _embedded is None:
            worker = Worker(get_engine(settings.database_url), settings)
            worker.start(blocking=False)
            atexit.register(worker.shutdown)
            _embedded = worker
        return _embedded


def embedded_worker() -> Worker | None:
    """The embedded worker of this process, if one was started (for status displays)."""
    return _embedded
