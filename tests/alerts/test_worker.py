"""The worker: lease take-over with a controlled clock, job gating, APScheduler settings, the embedded worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import jobs, worker
from alerts.jobs import JobSpec
from alerts.worker import Worker
from cx.errors import ConfigError

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)


def _counting_job(calls: list[str], name: str) -> JobSpec:
    def run(now: datetime) -> str:
        calls.append(name)
        return name

    return JobSpec("count", run, timedelta(seconds=10))


def test_one_active_worker_and_take_over_when_it_dies(engine, settings) -> None:
    calls: list[str] = []
    a = Worker(engine, settings, [_counting_job(calls, "a")], holder="worker-a", lease_ttl=TTL)
    b = Worker(engine, settings, [_counting_job(calls, "b")], holder="worker-b", lease_ttl=TTL)
    assert a.hold_lease(T0) and not b.hold_lease(T0)
    a.run_job("count", T0)
    b.run_job("count", T0)
    assert calls == ["a"]
    assert a.hold_lease(T0 + timedelta(seconds=15))  # renewed: valid until T0 + 75 s
    # worker a dies here (no more renewals)
    assert not b.hold_lease(T0 + timedelta(seconds=74))
    assert b.hold_lease(T0 + timedelta(seconds=76))  # expired: b takes over
    b.run_job("count", T0 + timedelta(seconds=76))
    assert calls == ["a", "b"]
    # a comes back (e.g. after a long pause): it has lost the lease and stays passive
    assert not a.hold_lease(T0 + timedelta(seconds=80))
    a.run_job("count", T0 + timedelta(seconds=80))
    assert calls == ["a", "b"] and not a.is_active(T0 + timedelta(seconds=80))


def test_a_clean_shutdown_hands_over_at_once(engine, settings) -> None:
    a = Worker(engine, settings, [], holder="worker-a", lease_ttl=TTL)
    b = Worker(engine, settings, [], holder="worker-b", lease_ttl=TTL)
    assert a.hold_lease(T0)
    a.shutdown()
    assert b.hold_lease(T0 + timedelta(seconds=1))


def test_a_failing_job_is_recorded_and_the_worker_lives_on(engine, settings) -> None:
    def broken() -> None:
        raise ConfigError("the source folder is missing")

    w = Worker(engine, settings, [JobSpec("broken", broken, timedelta(seconds=5))], holder="w", lease_ttl=TTL)
    w.tick(T0)
    assert w.runs["broken"].ok is False and "source folder" in w.runs["broken"].message


def test_scheduler_jobs_have_ids_coalesce_and_never_overlap(engine, settings) -> None:
    w = Worker(engine, settings, jobs.builtin_jobs(), holder="w")
    scheduler = w.build_scheduler(blocking=False)
    scheduler.start(paused=True)  # job defaults apply when the scheduler starts; paused, nothing runs
    try:
        scheduled = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(scheduled) == {
        "alerts.lease",
        "alerts.evaluate",
        "alerts.evaluate_full",
        "alerts.escalate",
        "alerts.deliver",
    }
    for job in scheduled.values():
        assert job.coalesce is True and job.max_instances == 1


def test_external_jobs_by_dotted_path() -> None:
    assert jobs.parse_path("etl.pipeline:run_incremental@300") == (
        "etl.pipeline",
        "run_incremental",
        timedelta(seconds=300),
    )
    assert jobs.resolve("no_such_package.module:run@10") is None  # skipped with a warning
    assert jobs.resolve("alerts.jobs:no_such_function@10") is None
    with pytest.raises(ConfigError, match="has no function no_such_function"):
        jobs.all_jobs(["alerts.jobs:no_such_function@10"])  # asked for explicitly: an error
    job = jobs.resolve("alerts.jobs:escalate@30")
    assert job is not None and job.every == timedelta(seconds=30)
    with pytest.raises(ConfigError, match="is not 'package.module:function@seconds'"):
        jobs.parse_path("os.system('id')")
    with pytest.raises(ConfigError, match="the interval must be positive"):
        jobs.parse_path("etl.pipeline:run@0")


def test_job_arguments_are_passed_by_name(engine, settings) -> None:
    seen = {}

    def only_engine(engine):
        seen["engine"] = engine

    jobs.call(JobSpec("x", only_engine, timedelta(seconds=1)), engine=engine, settings=settings, now=T0)
    assert seen == {"engine": engine}


def test_embedded_worker_starts_once_per_process(settings, monkeypatch) -> None:
    monkeypatch.setattr(worker, "_embedded", None)
    assert worker.start_embedded(settings.with_overrides(embedded_worker=False)) is None
    monkeypatch.setattr(jobs, "EXTERNAL_JOBS", [])
    first = worker.start_embedded(settings.with_overrides(embedded_worker=True))
    try:
        assert first is not None and worker.start_embedded(settings.with_overrides(embedded_worker=True)) is first
        assert first.scheduler is not None and first.scheduler.running
    finally:
        first.shutdown()
        first.engine.dispose()
