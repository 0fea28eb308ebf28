"""The ETL run: read → map → validate → normalise → dedupe → touchpoints → identity → profiles → daily facts → load.

``run`` takes files and folders (see etl.sources.discover), skips files already loaded unchanged (content hash in
``source_files``), and writes every table of the run in ONE transaction (etl.load), so a killed run leaves the
previous state. Counting: ``rows_read = rows_loaded + rows_quarantined + rows_suppressed``; ``rows_loaded``
includes rows that were merged into a newer version of the same record (``stats["duplicates"]``).

Duplicates: the same ``source:record_id`` in several inputs of one run becomes one row — the version from the
input modified last (file modification time, then path), and within a file the last line, wins. Across runs, a
later run's version replaces the stored one (upsert by ``interaction_id``).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl
from sqlalchemy import Engine, func, select, update

from cx.db import transaction
from cx.errors import CxError, EtlError, QuarantineLimitError
from cx.models import (
    Agent,
    DailyFact,
    Identifier,
    IdentityLink,
    Interaction,
    LoadBatch,
    Profile,
    QuarantinedRow,
    SourceFile,
)
from cx.schema import FUZZY_ATTRIBUTES, STRONG_IDENTIFIERS
from cx.settings import Settings
from cx.types import utcnow
from etl import load, profiles, sources, validate
from etl.normalise import name_key_expr

if TYPE_CHECKING:
    from etl.text_store import FullTexts

Progress = Callable[[float, str], None]

INTERACTIONS: Final = Interaction.__table__
INTERACTION_COLUMNS: Final = tuple(c.name for c in INTERACTIONS.columns)
#: Stored columns read back for identity, profiles and daily facts (everything but the free text).
WORK_COLUMNS: Final = tuple(c for c in INTERACTION_COLUMNS if c not in ("text",))
#: Below this share of new rows against the stored ones, a run resolves identities incrementally.
INCREMENTAL_SHARE: Final = 0.25
#: The polars engine of a run's queries: the in-memory engine costs 20–40 % less CPU than the streaming default
#: on these whole-batch steps (and calls the phone normaliser once per input instead of once per morsel). Set
#: for the duration of :func:`run` (polars' engine affinity is process-wide: other threads only run slower/faster).
ENGINE: Final = "in-memory"
FACT_COLUMNS: Final = tuple(c.name for c in DailyFact.__table__.columns if c.name != "id")


@dataclass
class RunSummary:
    """What one run did (stored in load_batches; printed by the CLI; shown by the welcome page)."""

    batch_id: int
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    profiles_created: int = 0
    profiles_merged: int = 0
    profiles_split: int = 0
    profiles_total: int = 0
    duration_s: float = 0.0
    message: str = ""
    rows_suppressed: int = 0
    duplicates: int = 0
    files_loaded: int = 0
    files_unchanged: int = 0
    mode: str = "full"
    skipped: list[tuple[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    #: The text analysis after the load (etl.text_store): succeeded, failed (message says how to repair) or ''.
    text_status: str = ""
    text_message: str = ""
    #: Seconds the writer spent per table and phase (etl.load.Writer.timings), on its own thread.
    write_timings: dict[str, float] = field(default_factory=dict)


class _Steps:
    """Step timings and the progress callback (fractions grow monotonically)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._t = time.perf_counter()
        self._cpu = time.process_time()
        self.started = self._t

    def done(self, name: str, fraction: float, message: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.timings[name] = round(now - self._t, 3)
        self.cpu[name] = round(cpu - self._cpu, 3)
        self._t, self._cpu = now, cpu
        if self.progress is not None:
            self.progress(fraction, message)

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.started, 3)


# ------------------------------------------------------------------------------------------------ pure steps


def dedupe(good: pl.LazyFrame) -> pl.LazyFrame:
    """Step: one row per interaction_id — the newest version wins (input order ``_order``, then ``_line``).

    Only rows whose id occurs more than once are ranked, so the usual case (no duplicates) costs one hash pass.
    """
    newest = pl.struct("_order", "_line").rank("ordinal", descending=True).over("interaction_id") == 1
    duplicated = pl.col("interaction_id").is_duplicated()
    return good.filter(~duplicated | newest)


def stored_validity(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Step: validity flags and name key of records read back from the store (stored phones/e-mails are valid:
    invalid ones were quarantined)."""
    return frame.with_columns(
        pl.col("phone").is_not_null().alias("phone_valid"),
        pl.col("email").is_not_null().alias("email_valid"),
        name_key_expr("name").alias("name_key"),
    )


def with_touchpoints(frame: pl.LazyFrame, journey: Any) -> pl.LazyFrame:
    """Step: touchpoint and stage from the journey map's rules where the source gave none (cx.journey)."""
    from cx.journey import assign_touchpoints

    return assign_touchpoints(frame, journey)


def _local_day(ts: datetime, timezone: str) -> date:
    from zoneinfo import ZoneInfo

    return ts.astimezone(ZoneInfo(timezone)).date()


# ------------------------------------------------------------------------------------------------ reading inputs


@dataclass
class _Input:
    item: sources.SourceInput
    digest: str
    columns: dict[str, str]
    lazy: pl.LazyFrame | None = None
    rows: int = 0
    quarantined: int = 0
    watermark: datetime | None = None
    size: int | None = None
    modified: datetime | None = None


def _file_stat(item: sources.SourceInput) -> tuple[int | None, datetime | None]:
    if item.path is None:
        return None, None
    stat = item.path.stat()
    return stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)


@dataclass
class _StoreState:
    """Everything the run reads through SQLAlchemy, gathered before any bulk (ADBC) access to the store."""

    by_path: dict[tuple[str, str], tuple[str, dict[str, Any] | None, int | None, datetime | None]]
    by_source: dict[str, dict[str, Any]]
    suppression: Any
    journey: Any
    overrides: list[Any]
    stored: int
    stored_max: datetime | None = None
    dictionary: list[Any] = field(default_factory=list)


def _gather(engine: Engine) -> _StoreState:
    """Known inputs, the suppression list, the journey map, identity overrides, the stored row count and latest
    time, and the text analysis' user dictionary.

    Afterwards the engine's pooled SQLite connections are closed: the bulk steps use ADBC, whose bundled SQLite
    must never hold the same file open in this process at the same time as pysqlite (their POSIX locks would
    interfere; see etl.load).
    """
    from cx.suppression import suppressed
    from etl.identity_overrides import load_overrides
    from etl.text import load_dictionary

    with transaction(engine) as session:
        rows = session.execute(
            select(
                SourceFile.source,
                SourceFile.path,
                SourceFile.content_hash,
                SourceFile.columns,
                SourceFile.size,
                SourceFile.modified_at,
            ).order_by(SourceFile.loaded_at, SourceFile.id)
        ).all()
        suppression = suppressed(session)
        overrides = load_overrides(session)
        stored = int(session.scalar(select(func.count()).select_from(Interaction)) or 0)
        stored_max = session.scalar(select(func.max(Interaction.occurred_at))) if stored else None
        dictionary = load_dictionary(session)
        try:
            from cx.journey_store import load_journey

            journey = load_journey(session)
        except ImportError:  # pragma: no cover - the journey model ships with cx
            journey = None
    if engine.dialect.name == "sqlite":
        release_sqlite(engine)
    return _StoreState(
        by_path={(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in rows},
        by_source={r[0]: r[3] for r in rows if r[3]},
        suppression=suppression,
        journey=journey,
        overrides=overrides,
        stored=stored,
        stored_max=stored_max,
        dictionary=dictionary,
    )


def release_sqlite(engine: Engine) -> None:
    """Close every pooled pysqlite connection of this process to the store's file before ADBC opens it: the
    engine given and the process-wide engines of cx.db for the same database (see etl.load on why).

    Connections checked out by other threads cannot be closed here: never call :func:`run` in a process whose
    other threads use the same SQLite store — use :func:`run_in_child` there (as :func:`load_demo` does).
    """
    from cx import db as cx_db

    engine.dispose()
    database = engine.url.database
    for other in list(getattr(cx_db, "_engines", {}).values()):
        if other is not engine and other.dialect.name == "sqlite" and other.url.database == database:
            other.dispose()


def _prepare_inputs(
    discovery: sources.Discovery, state: _StoreState, *, full: bool
) -> tuple[list[_Input], int, dict[str, pl.DataFrame]]:
    """Inputs to read (changed or new, unless ``full``), how many were unchanged, and SQL frames already read."""
    by_path, by_source = state.by_path, state.by_source
    ordered = sorted(discovery.inputs, key=lambda i: (i.mtime, i.key))
    chosen: list[_Input] = []
    unchanged = 0
    sql_frames: dict[str, pl.DataFrame] = {}
    drift: list[str] = []
    seen_schema: dict[str, dict[str, str]] = {}
    for item in ordered:
        known = by_path.get((item.mapping.source, item.key))
        size, modified = _file_stat(item)
        if (
            not full
            and known is not None
            and size is not None
            and known[2] == size
            and known[3] is not None
            and modified is not None
            and abs((known[3] - modified).total_seconds()) < 1e-3
        ):
            unchanged += 1  # same size and modification time: not even re-hashed
            continue
        if item.format == "sql":
            frame = sources.read_sql(item.mapping)
            sql_frames[item.key] = frame
            digest = sources.frame_hash(frame)
        else:
            assert item.path is not None
            digest = sources.content_hash(item.path)
        if known is not None and known[0] == digest and not full:
            unchanged += 1
            continue
        lazy = sources.scan_input(item, sql_frames.get(item.key))
        columns = sources.raw_schema(lazy)
        previous = (
            seen_schema.get(item.mapping.source) or (known[1] if known else None) or by_source.get(item.mapping.source)
        )
        problems = sources.schema_drift(
            item, columns, previous, optional_missing_ok=item.format in ("ndjson", "json", "sql")
        )
        if problems:
            drift.append(f"{item.mapping.source} / {item.display}: " + "; ".join(problems))
        seen_schema[item.mapping.source] = columns
        chosen.append(_Input(item, digest, columns, lazy, size=size, modified=modified))
    if drift:
        from cx.errors import SchemaDriftError

        raise SchemaDriftError(
            "Schema drift — the inputs differ from what their mappings expect (fix the export or update the "
            "mapping): " + " | ".join(drift)
        )
    return chosen, unchanged, sql_frames


def _validated(inputs: list[_Input], settings: Settings) -> tuple[list[pl.LazyFrame], list[pl.LazyFrame]]:
    goods, bads = [], []
    for order, entry in enumerate(inputs):
        item = entry.item
        assert entry.lazy is not None
        lf = entry.lazy.with_columns(pl.lit(item.key).alias("_file"), pl.lit(order, dtype=pl.Int32).alias("_order"))
        mapped = sources.apply_mapping(lf, item.mapping)
        good, bad = validate.validate(mapped, item.mapping, timezone=settings.timezone, region=settings.phone_region)
        goods.append(good)
        bads.append(bad)
    return goods, bads


# ------------------------------------------------------------------------------------------------ the run


def _start_batch(engine: Engine, trigger: str, paths: Sequence[str]) -> int:
    with transaction(engine) as session:
        session.execute(
            update(LoadBatch)
            .where(LoadBatch.status == "running")
            .values(status="failed", finished_at=utcnow(), message="interrupted: the run did not finish")
        )
        batch = LoadBatch(status="running", trigger=trigger, sources=[str(p) for p in paths])
        session.add(batch)
        session.flush()
        return int(batch.id)


def _fail_batch(engine: Engine, batch_id: int, message: str, stats: dict[str, Any], summary: RunSummary) -> None:
    if engine.dialect.name == "sqlite":
        release_sqlite(engine)
    with transaction(engine) as session:
        session.execute(
            update(LoadBatch)
            .where(LoadBatch.id == batch_id)
            .values(
                status="failed",
                finished_at=utcnow(),
                message=message[:4000],
                stats=stats,
                rows_read=summary.rows_read,
                rows_quarantined=summary.rows_quarantined,
                duration_s=summary.duration_s,
            )
        )


def _quarantine_frame(bad: pl.DataFrame, batch_id: int, now: datetime) -> pl.DataFrame:
    return bad.select(
        pl.lit(batch_id, dtype=pl.Int64).alias("batch_id"),
        "source",
        pl.col("file").str.slice(0, 1000),
        pl.col("line").cast(pl.Int64),
        pl.col("record_id").str.slice(0, 255),
        pl.col("column").str.slice(0, 100),
        "rule",
        "reason",
        "raw",
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("created_at"),
    )


def _departments(journey: Any) -> dict[str, str]:
    if journey is None:
        return {}
    from cx.journey import touchpoint_departments

    return touchpoint_departments(journey)


def _identity_config(settings: Settings) -> Any:
    from etl.identity_config import IdentityConfig

    return IdentityConfig(phone_region=settings.phone_region)


def _identity_records(frame: pl.DataFrame) -> pl.DataFrame:
    keep = ["interaction_id", "source", "channel", "occurred_at", *STRONG_IDENTIFIERS, *FUZZY_ATTRIBUTES]
    keep += [c for c in ("phone_valid", "email_valid", "name_key") if c in frame.columns]
    return frame.select(keep)


def _facts(
    rows: pl.DataFrame, profile_segments: pl.DataFrame, settings: Settings, journey: Any, as_of: datetime | None
) -> pl.DataFrame:
    from etl.aggregate import daily_facts

    frame = rows.lazy().join(profile_segments.lazy(), on="profile_id", how="left")
    return daily_facts(
        frame, timezone=settings.timezone, touchpoint_departments=_departments(journey), as_of=as_of
    ).collect()


class _Writes:
    """The run's writes, in order, on one worker thread holding the store's write transaction, so the main
    thread computes the next tables while the previous ones are written (ADBC and psycopg release the GIL).

    Once a write fails the later ones are skipped; :meth:`finish` raises the first error. The writer is opened
    on the worker thread too (the main thread goes on meanwhile); a failure to open it fails the first write.
    """

    def __init__(self, engine: Engine) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="etl-writer")
        self._futures: list[Any] = []
        self._failed = False
        self._opened = self._pool.submit(load.open_writer, engine)

    @property
    def writer(self) -> load.Writer:
        """The open writer (waits until it is open; raises what opening it raised)."""
        return self._opened.result()  # type: ignore[no-any-return]

    def submit(self, task: Callable[[load.Writer], Any]) -> Any:
        """Queue ``task``; returns its future."""

        def guarded() -> Any:
            if self._failed:
                return None
            try:
                return task(self.writer)
            except BaseException:
                self._failed = True
                raise

        future = self._pool.submit(guarded)
        self._futures.append(future)
        return future

    def finish(self) -> None:
        """Wait for every write; raise the first error (the transaction is then rolled back by :meth:`close`)."""
        for future in self._futures:
            future.result()

    def close(self, *, commit: bool) -> None:
        if self._opened.exception() is not None:  # nothing to commit or close: the open failed
            self._pool.shutdown()
            if commit:
                self.writer  # noqa: B018 - raises the error of opening it
            return
        try:
            for future in self._futures:
                future.exception()  # wait, errors were raised by finish()
            if commit and not self._failed:
                self._pool.submit(self.writer.commit).result()
            else:
                self._pool.submit(self.writer.rollback).result()
        finally:
            self._pool.submit(self.writer.close).result()
            self._pool.shutdown()


def run(
    engine: Engine,
    settings: Settings,
    paths: Sequence[Path | str],
    *,
    mapping_file: Path | str | None = None,
    channel: str | None = None,
    full: bool = False,
    trigger: str = "cli",
    progress: Progress | None = None,
) -> RunSummary:
    """Load files/folders into the store (see the module doc). Raises CxError subclasses with a clear message;
    the batch is then recorded as failed and the store keeps its previous state. The texts are analysed while
    the load is written and stored in its transaction under a savepoint (incremental run) or in a transaction
    after its commit (full run); either way a failure of the text step is reported in the summary and the load
    stays."""
    with load.run_lock(engine), pl.Config(engine_affinity=ENGINE):
        batch_id = _start_batch(engine, trigger, [str(p) for p in paths])
        steps = _Steps(progress)
        summary = RunSummary(batch_id=batch_id, status="running")
        try:
            texts, checkpoint = _run(engine, settings, paths, mapping_file, channel, full, steps, summary)
        except CxError as exc:
            summary.status = "failed"
            summary.message = str(exc)
            summary.duration_s = steps.elapsed()
            _fail_batch(engine, batch_id, str(exc), {"timings": steps.timings}, summary)
            raise
        except Exception as exc:
            summary.duration_s = steps.elapsed()
            _fail_batch(engine, batch_id, f"{type(exc).__name__}: {exc}", {"timings": steps.timings}, summary)
            raise
        _text_step(engine, settings, texts, checkpoint, steps, summary)
        summary.timings = steps.timings
        summary.cpu_timings = steps.cpu
        return summary


@dataclass
class _Texts:
    """What the run's text step needs (see etl.text_store)."""

    rows: pl.DataFrame  # interaction_id, occurred_at, text, source_kind of the batch's records with text
    batch_ids: pl.Series  # every interaction id the batch wrote (a record re-loaded without text loses its insight)
    full: bool  # a full run re-analyses every stored text (``rows`` then carry the keyword dimensions)
    dictionary: list[Any]
    batch_id: int
    outside: pl.DataFrame | None = None  # a full run's stored texts outside the batch, read before its writes
    planned: FullTexts | None = None  # a full run's analysis, made while its load was written
    failure: Exception | None = None  # why that analysis failed
    in_load: bool = False  # an incremental run's texts: stored (or not, and why) in the load's transaction


def _run(
    engine: Engine,
    settings: Settings,
    paths: Sequence[Path | str],
    mapping_file: Path | str | None,
    channel: str | None,
    full: bool,
    steps: _Steps,
    summary: RunSummary,
) -> tuple[_Texts | None, load.Checkpoint]:
    from etl.suppress import split_suppressed, split_suppressed_quarantine

    batch_id = summary.batch_id
    now = utcnow()
    discovery = sources.discover(paths, mapping_file=mapping_file, channel=channel)
    summary.skipped = discovery.skipped
    state = _gather(engine)
    inputs, summary.files_unchanged, _ = _prepare_inputs(discovery, state, full=full)
    summary.files_loaded = len(inputs)
    steps.done("discover", 0.05, f"{len(inputs)} input(s) to read, {summary.files_unchanged} unchanged")

    goods, bads = _validated(inputs, settings)
    frames = pl.collect_all(goods + bads) if inputs else []
    good_frames, bad_frames = frames[: len(goods)], frames[len(goods) :]
    for entry, good_frame, bad_frame in zip(inputs, good_frames, bad_frames, strict=True):
        entry.rows = good_frame.height + bad_frame.height
        entry.quarantined = bad_frame.height
        entry.watermark = good_frame.get_column("occurred_at").max() if good_frame.height else None  # type: ignore[assignment]
        stats = summary.sources.setdefault(entry.item.mapping.source, {"read": 0, "quarantined": 0, "files": 0})
        stats["read"] += entry.rows
        stats["quarantined"] += entry.quarantined
        stats["files"] += 1
    good = pl.concat(good_frames, how="vertical_relaxed", rechunk=False) if good_frames else pl.DataFrame()
    bad = pl.concat(bad_frames, how="vertical_relaxed") if bad_frames else pl.DataFrame()
    del frames, good_frames, bad_frames  # peak memory: one copy of the batch at a time
    summary.rows_read = sum(e.rows for e in inputs)
    # rows of erased customers are not quarantined either (their raw text holds the erased identifiers)
    if bad.height:
        kept_bad, removed_bad = split_suppressed_quarantine(bad.lazy(), state.suppression, region=settings.phone_region)
        bad, removed_bad = pl.collect_all([kept_bad, removed_bad])
        summary.rows_suppressed += removed_bad.height
    summary.rows_quarantined = bad.height
    steps.done("read_validate", 0.3, f"read {summary.rows_read:,} rows, {summary.rows_quarantined:,} quarantined")

    quarantine = _quarantine_frame(bad, batch_id, now) if bad.height else pl.DataFrame()
    share = summary.rows_quarantined / summary.rows_read if summary.rows_read else 0.0
    if share > settings.quarantine_max_share:
        top = bad.group_by("source", "rule").len().sort("len", descending=True).head(5).rows() if bad.height else []
        message = (
            f"{share:.1%} of the rows failed validation, above the limit of {settings.quarantine_max_share:.1%} "
            f"(CX_QUARANTINE_MAX_SHARE); nothing was loaded. Most common: "
            + ", ".join(f"{s} {r} × {n}" for s, r, n in top)
            + ". See the quarantined rows on the data page, fix the export or its mapping, and run again."
        )
        with load.open_writer(engine) as writer:
            writer.append(QuarantinedRow.__table__, quarantine)
            writer.commit()
        raise QuarantineLimitError(message)

    if good.height:
        kept, removed = split_suppressed(good.lazy(), state.suppression, region=settings.phone_region)
        kept_frame, removed_frame = pl.collect_all([kept, removed])
        summary.rows_suppressed += removed_frame.height
        del good, kept
        has_duplicates = bool(kept_frame.get_column("interaction_id").is_duplicated().any())
        deduped = dedupe(kept_frame.lazy()).collect() if has_duplicates else kept_frame
        summary.duplicates = kept_frame.height - deduped.height
        del kept_frame
    else:
        deduped = good
    summary.rows_loaded = summary.rows_read - summary.rows_quarantined - summary.rows_suppressed
    steps.done("dedupe", 0.33, f"{deduped.height:,} distinct records ({summary.duplicates:,} duplicates merged)")

    texts: _Texts | None = None
    if deduped.height:
        deduped = _fill_kinds(deduped, state.dictionary)
        texts = _Texts(
            rows=deduped.select("interaction_id", "occurred_at", "text", "source_kind").filter(
                pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != "")
            ),
            batch_ids=deduped.get_column("interaction_id"),
            full=False,
            dictionary=state.dictionary,
            batch_id=batch_id,
        )
        deduped = deduped.drop("source_kind")
    steps.done("text_kinds", 0.35, "kinds filled from texts where the source gave none")

    journey = state.journey
    if deduped.height and journey is not None:
        deduped = with_touchpoints(deduped.lazy(), journey).collect()
    steps.done("touchpoints", 0.38, "touchpoints assigned")

    stored = state.stored
    incremental = not full and stored > 0 and deduped.height <= INCREMENTAL_SHARE * stored
    summary.mode = "incremental" if incremental else "full"
    nothing = deduped.height == 0 and not full
    if nothing:
        summary.mode = "no-change" if not inputs else summary.mode
    holder = [deduped]  # the steps take the batch from here, so it is freed as soon as they are done with it
    del deduped
    if texts is not None and not (nothing or incremental):
        _texts_outside(engine, texts, stored)
    writes = _Writes(engine)
    try:
        if nothing:
            pass
        elif incremental:
            _incremental(engine, settings, holder.pop(), steps, summary, state, now, writes)
            if texts is not None:  # the writer is writing the load: analyse the texts meanwhile
                _texts_in_load(settings, texts, steps, summary, writes)
        else:
            if texts is not None:  # every text is analysed again; the keyword facts are cut from the batch's rows
                texts.rows = texts.rows.join(_keyword_dimensions(holder[0]), on="interaction_id", how="left")
                texts.full = True
            written = _full(engine, settings, holder, stored, steps, summary, state, now, writes)
            if texts is not None:  # the writer is writing the load: analyse the texts meanwhile
                _plan_texts(settings, texts, steps, after=written)
        writes.submit(lambda writer: _write_bookkeeping(writer, quarantine, inputs, discovery, batch_id, now))

        def finish(writer: load.Writer) -> None:
            summary.profiles_total = int(writer.query('SELECT COUNT(*) AS n FROM "profiles"').item(0, 0))
            summary.status = "succeeded"
            summary.duration_s = steps.elapsed()
            summary.message = _message(summary)
            _finish_batch(writer, summary, steps)
            if texts is not None and texts.in_load and summary.text_status:
                from etl import text_store

                text_store.note_outcome(writer, batch_id, summary.text_status, summary.text_message)

        writes.submit(finish)
        writes.finish()
    except BaseException:
        writes.close(commit=False)
        raise
    checkpoint = load.Checkpoint(engine)  # opened first, so closing the writer leaves the copy to it
    try:
        writes.close(commit=True)
    except BaseException:
        checkpoint.join()
        raise
    checkpoint.start()  # at once: it overlaps freeing the run's frames and the text step
    summary.write_timings = dict(writes.writer.timings)
    summary.duration_s = steps.elapsed()
    steps.done("load", 0.9, summary.message)
    return texts, checkpoint


def _write_bookkeeping(
    writer: load.Writer,
    quarantine: pl.DataFrame,
    inputs: list[_Input],
    discovery: sources.Discovery,
    batch_id: int,
    now: datetime,
) -> None:
    """Quarantined rows (replacing those of the re-read inputs), source files and agents."""
    if inputs:
        reloaded = pl.DataFrame(
            {"source": [e.item.mapping.source for e in inputs], "file": [e.item.key for e in inputs]}
        )
        writer.delete_keys(QuarantinedRow.__table__, reloaded)
    if quarantine.height:
        writer.append(QuarantinedRow.__table__, quarantine)
    _write_source_files(writer, inputs, batch_id, now)
    _write_agents(writer, discovery.agent_files)


def _fill_kinds(frame: pl.DataFrame, dictionary: list[Any]) -> pl.DataFrame:
    """``kind`` predicted from the text where the source gave none (etl.text.fill_kinds), the kind as given kept
    in ``source_kind``. Only those rows are analysed (identical texts once): usually a few percent of a batch."""
    from etl.text import TextResources, fill_kinds

    needs = pl.col("kind").is_null() & pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != "")
    frame = frame.with_columns(pl.col("kind").alias("source_kind"))
    rows = frame.with_row_index("_at").filter(needs).select("_at", "interaction_id", "text", "kind")
    if rows.is_empty():
        return frame
    filled = fill_kinds(rows.lazy(), TextResources.default(dictionary)).collect()
    kinds = frame.get_column("kind").scatter(filled.get_column("_at"), filled.get_column("kind"))
    return frame.with_columns(kinds.alias("kind"))


def _text_step(
    engine: Engine,
    settings: Settings,
    texts: _Texts | None,
    checkpoint: load.Checkpoint,
    steps: _Steps,
    summary: RunSummary,
) -> None:
    """After the load is committed: a full run's text analysis (made while the load was written) stored in its own
    transaction while the WAL checkpoint (started by :func:`_run`) runs in the background. A failure of either
    leaves the load in place; the summary says how to repair the texts. (An incremental run stored its texts in
    the load's transaction: :func:`_texts_in_load`.)"""
    try:
        if texts is not None and texts.full:
            from etl import text_store

            try:
                planned = texts.planned
                if texts.failure is not None or planned is None:
                    raise texts.failure or EtlError("the texts were not analysed")
                result = text_store.write_full(engine, planned, batch_id=texts.batch_id)
            except Exception as exc:  # the load is committed: report, do not fail the run
                _text_failed(summary, texts, settings, exc)
                text_store.record_outcome(engine, summary.batch_id, summary.text_status, summary.text_message)
            else:
                _text_succeeded(summary, result)
    finally:
        steps.timings["checkpoint"] = round(checkpoint.join(), 3)
    if checkpoint.error is not None:  # pragma: no cover - the next write checkpoints instead
        summary.text_message += f" (WAL checkpoint: {checkpoint.error})"
    steps.done("text", 1.0, summary.text_message or summary.message)


def _text_failed(summary: RunSummary, texts: _Texts, settings: Settings, exc: Exception) -> None:
    """The summary says the text step failed, why, and the command that repairs the texts."""
    first = texts.rows.get_column("occurred_at").min() if texts.rows.height else None
    since = _local_day(first, settings.timezone) if isinstance(first, datetime) else None
    repair = "python -m etl.text --all" if texts.full or since is None else f"python -m etl.text --since {since}"
    summary.text_status = "failed"
    summary.text_message = (
        f"The text analysis failed ({type(exc).__name__}: {exc}); the load itself succeeded. Repair with: {repair}"
    )[:2000]


def _text_succeeded(summary: RunSummary, result: Any) -> None:
    summary.text_status = "succeeded"
    summary.text_message = (
        f"{result.texts:,} texts analysed ({result.unique_texts:,} distinct), {result.kinds_filled:,} kinds filled"
    )


def _texts_in_load(settings: Settings, texts: _Texts, steps: _Steps, summary: RunSummary, writes: _Writes) -> None:
    """An incremental run's texts, analysed while its load is written (etl.text_store.analyse) and stored in the
    load's transaction under a savepoint (etl.text_store.store_batch): one commit, nothing left to write after it.
    A failure of either rolls back only the texts; the load commits and the summary says how to repair them."""
    from etl import text_store

    texts.in_load = True
    started = time.perf_counter()
    try:
        analysed = text_store.analyse(texts.rows, texts.dictionary)
    except Exception as exc:
        _text_failed(summary, texts, settings, exc)
        steps.done("text_analysis", 0.75, summary.text_message)
        return
    steps.done("text_analysis", 0.75, f"{analysed.height:,} texts analysed")
    analysis_s = time.perf_counter() - started

    def store(writer: load.Writer) -> None:
        try:
            with writer.savepoint("etl_texts"):
                result = text_store.store_batch(
                    writer, analysed, batch_ids=texts.batch_ids, timezone=settings.timezone, now=utcnow()
                )
        except Exception as exc:  # the texts are rolled back, the load goes on
            _text_failed(summary, texts, settings, exc)
        else:
            result.seconds += analysis_s
            _text_succeeded(summary, result)

    writes.submit(store)


def _texts_outside(engine: Engine, texts: _Texts, stored: int) -> None:
    """A full run's stored texts outside the batch (etl.text_store.stored_texts_outside), read before the writer
    opens; a failure is kept for the text step to report (the load goes on)."""
    from etl import text_store

    try:
        texts.outside = text_store.stored_texts_outside(engine, texts.batch_ids) if stored else None
    except Exception as exc:  # reported by _text_step, after the load's commit
        texts.failure = exc


def _plan_texts(settings: Settings, texts: _Texts, steps: _Steps, *, after: Any) -> None:
    """A full run's text analysis (etl.text_store.plan_full) while the load is written, once the write ``after``
    (the interactions: their frame, the largest, is then freed) is done; a failure is kept for the text step to
    report (the load goes on)."""
    from concurrent.futures import wait

    from etl import text_store

    wait([after])  # its error, if any, fails the run through _Writes.finish
    if texts.failure is None:
        try:
            outside = texts.outside if texts.outside is not None else texts.rows.clear()
            texts.planned = text_store.plan_full(
                texts.rows, outside, dictionary=texts.dictionary, timezone=settings.timezone, now=utcnow()
            )
        except Exception as exc:  # reported by _text_step, after the load's commit
            texts.failure = exc
    texts.outside = None
    steps.done("text_analysis", 0.75, "texts analysed while the load is written")


def _keyword_dimensions(batch: pl.DataFrame) -> pl.DataFrame:
    """interaction_id and the columns the keyword facts are cut by (etl.text_store.KEYWORD_DIMENSIONS)."""
    from etl.text_store import KEYWORD_DIMENSIONS

    return batch.select(
        "interaction_id",
        *(pl.col(c) if c in batch.columns else pl.lit(None, dtype=pl.String).alias(c) for c in KEYWORD_DIMENSIONS),
    )


@dataclass
class _Result:
    """The identity outcome of a run."""

    assignments: pl.DataFrame  # interaction_id, profile_id of every record whose profile was (re)decided
    moved: pl.DataFrame  # interaction_id, profile_id of stored records that change profile


def _apply_assignments(frame: pl.DataFrame, assignments: pl.DataFrame) -> pl.DataFrame:
    joined = frame.drop("profile_id", strict=False).join(
        assignments, on="interaction_id", how="left", maintain_order="left"
    )
    if "profile_id" in frame.columns:
        joined = joined.with_columns(
            pl.coalesce(pl.col("profile_id"), frame.get_column("profile_id")).alias("profile_id")
        )
    return joined


def _write_interactions(
    writer: load.Writer, rows: pl.DataFrame, moved: pl.DataFrame, batch_id: int, *, replace: bool
) -> None:
    """The batch's records (``replace``: deleting stored versions first) and the new profile of moved ones."""
    rows = rows.with_columns(pl.lit(batch_id, dtype=pl.Int64).alias("batch_id")).select(INTERACTION_COLUMNS)
    if replace:
        writer.delete_keys(INTERACTIONS, rows.select("interaction_id"))
    writer.append(INTERACTIONS, rows)  # large appends rebuild the secondary indexes after the insert
    if moved.height:
        writer.update_from(
            INTERACTIONS, "interaction_id", moved.with_columns(pl.lit(batch_id, dtype=pl.Int64).alias("batch_id"))
        )


def _full(
    engine: Engine,
    settings: Settings,
    holder: list[pl.DataFrame],
    stored: int,
    steps: _Steps,
    summary: RunSummary,
    state: _StoreState,
    now: datetime,
    writes: _Writes,
) -> Any:
    """Every record resolved, every profile and fact rebuilt. The tables are written on the writer thread as soon
    as each is ready (interactions, links and identifiers while profiles and facts are computed). Returns the
    future of the interactions' write."""
    from etl.identity import resolve

    journey = state.journey
    existing = (
        load.read_frame(
            engine, "SELECT " + ", ".join(f'"{c}"' for c in WORK_COLUMNS) + ' FROM "interactions"', table=INTERACTIONS
        )
        if stored
        else None
    )
    steps.done("read_store", 0.42, f"read {stored:,} stored records")
    new = holder.pop()
    new = new.drop([c for c in ("_file", "_order", "_line", "profile_id") if c in new.columns])
    if existing is not None and existing.height:
        old = (
            stored_validity(existing.lazy())
            .collect()
            .join(new.select("interaction_id"), on="interaction_id", how="anti")
        )
        records = pl.concat([new.drop("text"), old.drop("batch_id", "profile_id")], how="diagonal_relaxed")
        previous = existing.select("interaction_id", "profile_id").filter(pl.col("profile_id").is_not_null())
        del existing
    else:
        old = None
        records = new.drop("text")
        previous = None
    identity = resolve(
        _identity_records(records), previous=previous, overrides=state.overrides, config=_identity_config(settings)
    )
    del records
    _identity_summary(summary, identity.stats)
    steps.done("identity", 0.55, f"identity: {identity.stats.profiles:,} profiles")
    assignments = identity.assignments  # in interaction-id order: the batch joined onto it is in insert order
    new_rows = assignments.join(new, on="interaction_id", how="inner", maintain_order="left")
    moved = (
        previous.join(assignments, on="interaction_id", suffix="_new")
        .filter(pl.col("profile_id") != pl.col("profile_id_new"))
        .select("interaction_id", pl.col("profile_id_new").alias("profile_id"))
        if previous is not None
        else pl.DataFrame(schema={"interaction_id": pl.String, "profile_id": pl.String})
    )
    del new, previous
    links, identifiers = identity.links, identity.identifiers
    replace = bool(stored)
    written = writes.submit(
        lambda writer: _write_interactions(writer, new_rows, moved, summary.batch_id, replace=replace)
    )

    def write_identity(writer: load.Writer) -> None:
        for table in (IdentityLink.__table__, Identifier.__table__):
            writer.execute(f'DELETE FROM "{table.name}"')
        writer.append(IdentityLink.__table__, links)
        writer.append(Identifier.__table__, identifiers)

    writes.submit(write_identity)
    del identity
    if old is not None:
        everything = pl.concat([new_rows.drop("text"), _apply_assignments(old, assignments)], how="diagonal_relaxed")
    else:
        everything = new_rows
    built = profiles.build_profiles(everything, updated_at=now)

    def write_profiles(writer: load.Writer) -> None:
        writer.execute(f'DELETE FROM "{Profile.__table__.name}"')
        writer.append(Profile.__table__, built)

    writes.submit(write_profiles)
    steps.done("profiles", 0.65, f"{built.height:,} profiles built")
    facts = _facts(everything, built.select("profile_id", "segment"), settings, journey, None)
    del everything

    def write_facts(writer: load.Writer) -> None:
        writer.execute(f'DELETE FROM "{DailyFact.__table__.name}"')
        writer.append(DailyFact.__table__, facts.select([c for c in FACT_COLUMNS if c in facts.columns]))

    writes.submit(write_facts)
    steps.done("daily_facts", 0.72, f"{facts.height:,} daily fact rows")
    return written


def _as_of_after(
    engine: Engine, new: pl.DataFrame, stored_max: datetime | None, reloaded: pl.Series
) -> datetime | None:
    """The latest time in the store once the batch is written (a re-loaded record may have moved back)."""
    reloaded = reloaded.alias("interaction_id").to_frame()
    newest = new.get_column("occurred_at").max()
    if stored_max is None or reloaded.is_empty():
        candidates = [stored_max, newest]
    else:
        limit = reloaded.height + 1
        latest = load.read_frame(
            engine,
            f'SELECT "interaction_id", "occurred_at" FROM "interactions" ORDER BY "occurred_at" DESC LIMIT {limit}',
            table=INTERACTIONS,
        ).join(reloaded, on="interaction_id", how="anti")
        candidates = [latest.get_column("occurred_at").max() if latest.height else None, newest]
    present = [c for c in candidates if c is not None]
    return max(present) if present else None  # type: ignore[type-var]


def _incremental(
    engine: Engine,
    settings: Settings,
    new: pl.DataFrame,
    steps: _Steps,
    summary: RunSummary,
    state: _StoreState,
    now: datetime,
    writes: _Writes,
) -> None:
    """A small batch on a big store: identity for the profiles it reaches, those profiles rebuilt, daily facts
    updated by difference (etl.incremental) — the same tables as a full run."""
    from etl import incremental
    from etl.identity import resolve_incremental

    journey = state.journey
    new_work = new.drop([c for c in ("_file", "_order", "_line", "profile_id") if c in new.columns])
    # the store's read of the touched records (with their validity flags and name keys) is reused below
    store = load.StoreIdentityStore(engine, WORK_COLUMNS, lambda frame: stored_validity(frame.lazy()).collect())
    identity = resolve_incremental(
        _identity_records(new_work),
        store=store,
        overrides=state.overrides,
        config=_identity_config(settings),
    )
    _identity_summary(summary, identity.stats)
    steps.done("identity", 0.55, f"identity: {identity.stats.profiles:,} profiles touched")

    assignments = identity.assignments
    replaced = pl.Series("profile_id", identity.profiles_replaced, dtype=pl.String)
    if store.records is None:  # no stored profile reached
        touched_rows = load.read_keyed(engine, INTERACTIONS, WORK_COLUMNS, "profile_id", replaced)
    else:
        touched_rows = store.records.filter(pl.col("profile_id").is_in(replaced.implode()))
    reloaded = touched_rows.join(new_work.select("interaction_id"), on="interaction_id", how="semi")
    stored_rows = touched_rows.join(new_work.select("interaction_id"), on="interaction_id", how="anti")
    if "name_key" not in stored_rows.columns:
        stored_rows = stored_validity(stored_rows.lazy()).collect()
    moved = (
        stored_rows.select("interaction_id", "profile_id")
        .join(assignments, on="interaction_id", suffix="_new")
        .filter(pl.col("profile_id") != pl.col("profile_id_new"))
        .select("interaction_id", pl.col("profile_id_new").alias("profile_id"))
    )
    batch = new_work.join(assignments, on="interaction_id", how="left", maintain_order="left")
    # written while the rest is computed (the reads below see the store as committed before the run)
    writes.submit(lambda writer: _write_interactions(writer, batch, moved, summary.batch_id, replace=True))
    result_ids = set(assignments.get_column("profile_id").unique().to_list())
    deleted = sorted(set(identity.profiles_replaced) - result_ids)
    # profiles whose records change (new, re-loaded, moved in or out): the others the identity step reached keep
    # the same records, so their profile, identifier and evidence rows stay as stored
    changed = (
        set(batch.get_column("profile_id").drop_nulls())
        | set(reloaded.get_column("profile_id").drop_nulls())
        | set(moved.get_column("profile_id"))
        | set(stored_rows.join(moved, on="interaction_id", how="semi").get_column("profile_id").drop_nulls())
    )
    rebuilt = sorted(changed & result_ids)
    members = pl.concat(
        [batch.drop("text"), _apply_assignments(stored_rows.drop("batch_id"), assignments)], how="diagonal_relaxed"
    ).filter(pl.col("profile_id").is_in(rebuilt))
    built = profiles.build_profiles(members, updated_at=now)
    links = identity.links.join(members.select("interaction_id"), on="interaction_id", how="semi")
    identifiers = identity.identifiers.filter(pl.col("profile_id").is_in(rebuilt))
    gone = pl.DataFrame({"profile_id": sorted(changed | set(deleted))}, schema={"profile_id": pl.String})

    def write_profiles(writer: load.Writer) -> None:
        """Links of the records, identifiers and profiles of the changed profiles (rows equal to the stored ones
        stay as they are, see load.Writer.replace_rows)."""
        writer.replace_rows(IdentityLink.__table__, links, ("interaction_id",))
        writer.replace_rows(Identifier.__table__, identifiers, ("profile_id", "id_type", "value"), scope=gone)
        writer.replace_rows(Profile.__table__, built, ("profile_id",), scope=gone)

    writes.submit(write_profiles)
    steps.done("profiles", 0.65, f"{built.height:,} profiles rebuilt")

    # daily facts by difference over the records whose share can change
    stored_segments = load.read_keyed(
        engine, Profile.__table__, ("profile_id", "segment"), "profile_id", pl.Series(rebuilt, dtype=pl.String)
    )
    changed_segment = (
        built.select("profile_id", "segment")
        .join(stored_segments, on="profile_id", how="left", suffix="_old")
        .filter(pl.col("segment").ne_missing(pl.col("segment_old")))
    )
    as_of_before = state.stored_max
    as_of_after = _as_of_after(engine, new_work, as_of_before, reloaded.get_column("interaction_id"))
    lapse_profiles, sla_cases = incremental.as_of_seeds(engine, as_of_before, as_of_after, timezone=settings.timezone)
    seeds = changed | set(changed_segment.get_column("profile_id")) | set(deleted) | lapse_profiles
    affected = incremental.affected_records(
        engine,
        batch=batch.select(incremental.FACT_INPUT_COLUMNS),
        assigned=assignments,
        loaded=touched_rows.select(incremental.FACT_INPUT_COLUMNS),
        loaded_profiles=identity.profiles_replaced,
        seed_profiles=seeds,
        seed_cases=sla_cases | set(reloaded.get_column("case_id").drop_nulls()),
    )
    segments = load.read_keyed(
        engine, Profile.__table__, ("profile_id", "segment"), "profile_id", pl.Series(sorted(affected.profiles))
    )
    segments_after = pl.concat(
        [segments.join(built.select("profile_id"), on="profile_id", how="anti"), built.select("profile_id", "segment")]
    )
    departments = _departments(journey)
    delta = incremental.facts_delta(
        affected,
        segments_before=segments,
        segments_after=segments_after,
        timezone=settings.timezone,
        departments=departments,
        as_of_before=as_of_before,
        as_of_after=as_of_after,
    )
    stored_facts = incremental.stored_facts(engine, delta)
    try:
        facts = incremental.apply_delta(stored_facts, delta)
        replace_ids: pl.DataFrame | None = stored_facts.select("id")
    except incremental.FactsOutOfStep:
        facts = _rebuilt_facts(engine, settings, journey, batch, assignments, built, deleted, as_of_after)
        replace_ids = None
    steps.done("daily_facts", 0.72, f"{facts.height:,} daily fact rows written ({affected.before.height:,} records)")

    def write_facts(writer: load.Writer) -> None:
        if replace_ids is None:
            writer.execute(f'DELETE FROM "{DailyFact.__table__.name}"')
        else:
            writer.delete_keys(DailyFact.__table__, replace_ids)
        writer.append(DailyFact.__table__, facts.select([c for c in FACT_COLUMNS if c in facts.columns]))

    writes.submit(write_facts)


def _rebuilt_facts(
    engine: Engine,
    settings: Settings,
    journey: Any,
    batch: pl.DataFrame,
    assignments: pl.DataFrame,
    built: pl.DataFrame,
    deleted: list[str],
    as_of: datetime | None,
) -> pl.DataFrame:
    """Every daily fact from the stored records and the batch (stored facts out of step with the records)."""
    from etl.incremental import FACT_INPUT_COLUMNS

    stored = load.read_frame(
        engine,
        "SELECT " + ", ".join(f'"{c}"' for c in FACT_INPUT_COLUMNS) + ' FROM "interactions"',
        table=INTERACTIONS,
    )
    rows = pl.concat(
        [
            _apply_assignments(
                stored.join(batch.select("interaction_id"), on="interaction_id", how="anti"), assignments
            ),
            batch.select(FACT_INPUT_COLUMNS),
        ],
        how="diagonal_relaxed",
    )
    segments = load.read_frame(engine, 'SELECT "profile_id", "segment" FROM "profiles"', table=Profile.__table__)
    segments = pl.concat(
        [
            segments.filter(~pl.col("profile_id").is_in([*built.get_column("profile_id").to_list(), *deleted])),
            built.select("profile_id", "segment"),
        ]
    )
    return _facts(rows, segments, settings, journey, as_of)


def _identity_summary(summary: RunSummary, stats: Any) -> None:
    summary.profiles_created = int(stats.created)
    summary.profiles_merged = int(stats.merged)
    summary.profiles_split = int(stats.split)


def _write_source_files(writer: load.Writer, inputs: list[_Input], batch_id: int, now: datetime) -> None:
    if not inputs:
        return
    frame = pl.DataFrame(
        {
            "source": [e.item.mapping.source for e in inputs],
            "path": [e.item.key for e in inputs],
            "content_hash": [e.digest for e in inputs],
            "rows": [e.rows for e in inputs],
            "watermark": [e.watermark for e in inputs],
            "batch_id": [batch_id] * len(inputs),
            "loaded_at": [now] * len(inputs),
            "columns": [json.dumps(e.columns, ensure_ascii=False) for e in inputs],
            "size": [e.size for e in inputs],
            "modified_at": [e.modified for e in inputs],
        },
        schema_overrides={
            "watermark": pl.Datetime("us", "UTC"),
            "loaded_at": pl.Datetime("us", "UTC"),
            "modified_at": pl.Datetime("us", "UTC"),
            "size": pl.Int64,
        },
    )
    writer.delete_keys(SourceFile.__table__, frame.select("source", "path"))
    writer.append(SourceFile.__table__, frame)


def _write_agents(writer: load.Writer, files: list[Path]) -> None:
    for path in files:
        frame = pl.read_csv(path, infer_schema=False)
        frame = (
            frame.select([c for c in sources.AGENT_COLUMNS if c in frame.columns])
            .filter(pl.col("agent_id").is_not_null())
            .unique("agent_id", keep="last")
        )
        writer.delete_keys(Agent.__table__, frame.select("agent_id"))
        writer.append(Agent.__table__, frame)


def _message(summary: RunSummary) -> str:
    return (
        f"{summary.mode} run: read {summary.rows_read:,} rows, loaded {summary.rows_loaded:,}, quarantined "
        f"{summary.rows_quarantined:,}"
        + (f", suppressed {summary.rows_suppressed:,}" if summary.rows_suppressed else "")
        + (f" ({summary.duplicates:,} duplicates merged)" if summary.duplicates else "")
        + f"; {summary.files_loaded} input(s) loaded, {summary.files_unchanged} unchanged"
    )


def _finish_batch(writer: load.Writer, summary: RunSummary, steps: _Steps) -> None:
    stats = {
        "mode": summary.mode,
        "rows_suppressed": summary.rows_suppressed,
        "duplicates": summary.duplicates,
        "files_loaded": summary.files_loaded,
        "files_unchanged": summary.files_unchanged,
        "skipped": [list(s) for s in summary.skipped],
        "sources": summary.sources,
        "timings": steps.timings,
        "cpu_timings": steps.cpu,
        "profiles_total": summary.profiles_total,
    }
    writer.execute(
        'UPDATE "load_batches" SET "status" = ?, "finished_at" = ?, "rows_read" = ?, "rows_loaded" = ?, '
        '"rows_quarantined" = ?, "profiles_created" = ?, "profiles_merged" = ?, "profiles_split" = ?, '
        '"duration_s" = ?, "message" = ?, "stats" = '
        + ("CAST(? AS JSONB)" if writer.dialect == "postgresql" else "?")
        + ' WHERE "id" = ?',
        [
            summary.status,
            utcnow(),
            summary.rows_read,
            summary.rows_loaded,
            summary.rows_quarantined,
            summary.profiles_created,
            summary.profiles_merged,
            summary.profiles_split,
            summary.duration_s,
            summary.message,
            json.dumps(stats, ensure_ascii=False, default=str),
            summary.batch_id,
        ],
    )


# ------------------------------------------------------------------------------------------------ the demo


#: The demo data plants every kind of bad row, so small demo sets quarantine more than real exports should.
DEMO_QUARANTINE_MAX_SHARE: Final = 0.25


def load_demo(
    engine: Engine,
    settings: Settings,
    *,
    customers: int,
    seed: int,
    progress: Progress | None = None,
    out: Path | None = None,
) -> RunSummary:
    """Generate the demo exports (into ``out`` or a temporary folder), seed the default journey and run the
    pipeline on them (agents.csv goes to ``agents``), reporting progress through ``progress(fraction, message)``.

    On SQLite the run happens in a child process (``python -m etl run``), so this process — the Streamlit app,
    whose other sessions use the store — never opens the file with ADBC's own SQLite (see etl.load).
    """
    from etl import demo

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(max(fraction, 0.0), 1.0), message)

    with transaction(engine) as session:
        try:
            from cx.journey_store import ensure_default_journey

            ensure_default_journey(session)
        except ImportError:  # pragma: no cover
            pass
    demo_settings = settings.with_overrides(
        quarantine_max_share=max(settings.quarantine_max_share, DEMO_QUARANTINE_MAX_SHARE)
    )
    with tempfile.TemporaryDirectory(prefix="cx-demo-") as folder:
        target = out or Path(folder)
        report(0.02, f"generating demo data for {customers:,} customers")
        demo.generate(customers, seed, target)
        report(0.1, "demo exports written")
        scaled: Progress = lambda fraction, message: report(0.1 + 0.9 * fraction, message)  # noqa: E731
        if engine.dialect.name == "sqlite":
            return run_in_child(demo_settings, [target], trigger="demo", progress=scaled)
        return run(engine, demo_settings, [target], trigger="demo", progress=scaled)


def has_new_input(engine: Engine, paths: Sequence[Path | str]) -> bool:
    """Whether any input under ``paths`` is new or changed since it was last loaded (size and modification time
    first, the content hash only for files whose stat changed) — the cheap check before a scheduled run."""
    inputs, _, _ = _prepare_inputs(sources.discover(paths), _gather(engine), full=False)
    return bool(inputs)


def run_incremental(engine: Engine, settings: Settings) -> RunSummary | None:
    """The worker's scheduled ETL job: load what is new or changed in the configured sources (``CX_SOURCES``).

    Returns None when no source is configured or nothing changed (no load batch is recorded then); a configured
    path that does not exist raises ConfigError naming it. On SQLite the run happens in a child process, as
    :func:`load_demo` explains, because the embedded worker shares the app's process.
    """
    from cx.errors import ConfigError

    paths = settings.source_paths
    if not paths:
        return None
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ConfigError(
            f"CX_SOURCES names {', '.join(missing)}, which does not exist: fix the path or remove it from CX_SOURCES"
        )
    if not has_new_input(engine, paths):
        return None
    if engine.dialect.name == "sqlite":
        return run_in_child(settings, paths, trigger="worker")
    return run(engine, settings, paths, trigger="worker")


def _child_environment(settings: Settings) -> dict[str, str]:
    import dataclasses
    import os

    env = dict(os.environ)
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        if value is not None:
            env[item.metadata["env"]] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_in_child(
    settings: Settings, paths: Sequence[Path | str], *, trigger: str = "cli", progress: Progress | None = None
) -> RunSummary:
    """:func:`run` in a child process (``python -m etl run --progress json``), relaying its progress.

    The child dies with this process; a failed run raises the same kind of error as an in-process run.
    """
    import subprocess
    import sys

    import cx.errors as errors

    command = [sys.executable, "-m", "etl", "run", *map(str, paths), "--progress", "json", "--trigger", trigger]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=_child_environment(settings),
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    assert process.stdout is not None
    outcome: dict[str, Any] = {}
    for line in process.stdout:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "progress" in message and progress is not None:
            progress(float(message["progress"]), str(message["message"]))
        else:
            outcome.update(message)
    stderr = process.stderr.read() if process.stderr else ""
    process.wait()
    if "summary" in outcome:
        data = outcome["summary"]
        data["skipped"] = [tuple(s) for s in data.get("skipped", [])]
        return RunSummary(**data)
    if "error" in outcome:
        kind = getattr(errors, str(outcome.get("type")), EtlError)
        raise (kind if isinstance(kind, type) and issubclass(kind, CxError) else EtlError)(outcome["error"])
    raise EtlError(f"The ETL run stopped unexpectedly (exit code {process.returncode}): {stderr.strip()[-2000:]}")


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    return asdict(summary)


__all__ = [
    "Progress",
    "RunSummary",
    "dedupe",
    "load_demo",
    "run",
    "stored_validity",
    "summary_dict",
    "with_touchpoints",
]
