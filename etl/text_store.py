"""The ETL run's text step: analyse the batch's texts (etl.text) and store the results in bulk (ADBC / COPY).

Incremental run: :func:`analyse` while the load is written, then :func:`store_batch` in the load's transaction under
a savepoint (etl.pipeline), so a failure rolls back only the texts and leaves the load in place; the run's
``load_batches`` row notes the failure and the repair command (:func:`note_outcome`). Same results as
``etl.text.analyse_texts``:

- ``text_insights`` of the batch's records replaced (records re-loaded without text lose theirs),
- new FAQ candidates (explicit ids after the highest one; the PostgreSQL sequence is moved past them),
- ``interactions.kind`` set to the predicted label where the source gave none (the core load wrote the batch's),
- member counts of the FAQ candidates touched, and ``voc_keywords`` of the local days touched.

Full run: the same results as ``etl.text.reanalyse_store`` (every stored text, FAQ regrouped from scratch, keyword
facts of every day, kinds of stored records predicted again). :func:`plan_full` analyses the texts and cuts the
keyword facts in memory while the load's writer is still writing (the run's thread would only wait for it), and
:func:`write_full` stores them in their own transaction after the load's commit — a failure of either leaves the
load in place, as above.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine

from cx.models import FaqCandidate, Interaction, LoadBatch, TextInsight, VocKeyword
from cx.voc import keyword_facts, pack_terms
from etl import faq, load
from etl.text import KIND_LABELS, TextResources, TextRunResult, analyse_frame, insight_columns

#: Distinct texts above which tokenising uses a pool of two processes.
POOL_ABOVE: Final = 60_000
_TS: Final = pl.Datetime("us", "UTC")


def _existing_questions(writer: load.Writer) -> pl.DataFrame:
    """(question, lang, faq_id) of the grouped texts, read from the (faq_id, question, lang) index alone: a scan of
    the table read every insight (0.2 s warm, ~1 s while the previous run's checkpoint competes for the disk)."""
    frame = writer.query('SELECT DISTINCT "question", "lang", "faq_id" FROM "text_insights" WHERE "faq_id" IS NOT NULL')
    schema = {"question": pl.String, "lang": pl.String, "faq_id": pl.Int64}
    return frame.cast(schema) if frame.height else pl.DataFrame(schema=schema)  # type: ignore[arg-type]


def _new_candidates(keyed: pl.DataFrame, first_id: int, now: datetime) -> pl.DataFrame:
    """FAQ candidates of the new groups (as etl.text does): the group's most frequent key, its most frequent
    wording, its latest text as the example; ids from ``first_id`` in group order."""
    fresh = keyed.filter(pl.col("group").is_not_null())
    if fresh.is_empty():
        return pl.DataFrame(schema={"id": pl.Int64, "group": pl.Int64})
    representatives = faq.faq_representatives(fresh)
    rows = []
    for index, row in enumerate(representatives.iter_rows(named=True)):  # one row per new FAQ group (few)
        title = row["clean"][:1].upper() + row["clean"][1:]
        rows.append(
            {
                "id": first_id + index,
                "group": row["group"],
                "lang": row["lang"],
                "title": title[:500],
                "question": row["question"][:500],
                "keywords": pack_terms(row["question"].split(" "))[:500],
                "example_interaction_id": row["example"],
                "texts": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64,
            "group": pl.Int64,
            "lang": pl.String,
            "title": pl.String,
            "question": pl.String,
            "keywords": pl.String,
            "example_interaction_id": pl.String,
            "texts": pl.Int64,
            "created_at": _TS,
            "updated_at": _TS,
        },
        orient="row",
    )


def _utc_bounds(days: Sequence[date], timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime.combine(min(days), datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(max(days) + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    return start, end


def _keyword_rows(writer: load.Writer, days: Sequence[date], timezone: str) -> pl.DataFrame:
    """``voc_keywords`` rows of ``days`` from the stored texts as this transaction sees them."""
    sql = (
        'SELECT i."occurred_at", i."channel", i."stage", i."touchpoint", t."label", t."sentiment", t."terms", '
        't."topics" FROM "interactions" AS i JOIN "text_insights" AS t ON t."interaction_id" = i."interaction_id" '
        'WHERE i."occurred_at" >= ? AND i."occurred_at" < ?'
    )
    rows = writer.query(sql, list(_utc_bounds(days, timezone)))
    if rows.is_empty():
        return pl.DataFrame()
    rows = load.from_store(rows.select("occurred_at"), Interaction.__table__).hstack(
        rows.drop("occurred_at").with_columns(pl.col("sentiment").cast(pl.Float64))
    )
    return keyword_facts(rows.lazy(), timezone).filter(pl.col("day").is_in(list(days))).collect()


def _analysed(rows: pl.DataFrame, dictionary: Sequence[Any]) -> pl.DataFrame:
    """The analysis of ``rows`` (etl.text) with their occurred_at and source_kind."""
    if not rows.height:
        return pl.DataFrame()
    distinct = rows.get_column("text").n_unique()
    resources = TextResources.default(dictionary, workers=2 if distinct > POOL_ABOVE else 1)
    return (
        analyse_frame(rows.lazy().select("interaction_id", "text"), resources)
        .join(rows.lazy().select("interaction_id", "occurred_at", "source_kind"), on="interaction_id")
        .collect()
    )


@dataclass
class _Grouped:
    """Analysed texts with their FAQ group (``faq_id``) and ``kind_filled``, and the new FAQ candidates."""

    analysed: pl.DataFrame
    candidates: pl.DataFrame
    touched: set[int]


def _grouped(
    analysed: pl.DataFrame, existing: pl.DataFrame, first_id: int, now: datetime, result: TextRunResult
) -> _Grouped:
    """Questions join the ``existing`` groups or form new ones (candidate ids from ``first_id``)."""
    questions = analysed.filter(pl.col("question").is_not_null())
    keyed = pl.DataFrame(schema={"interaction_id": pl.String, "faq_id": pl.Int64})
    candidates = pl.DataFrame(schema={"id": pl.Int64, "group": pl.Int64})
    touched: set[int] = set()
    if questions.height:
        grouping = faq.group_questions(questions.select("question", "lang"), existing)
        keyed = questions.join(grouping.groups, on=["question", "lang"], how="left")
        candidates = _new_candidates(keyed, first_id, now)
        keyed = keyed.join(candidates.select("group", pl.col("id").alias("new_id")), on="group", how="left").select(
            "interaction_id", pl.coalesce("faq_id", "new_id").alias("faq_id")
        )
        touched = set(keyed.get_column("faq_id").drop_nulls().to_list())
        result.faq_new, result.faq_joined = grouping.new_groups, grouping.joined_existing
    analysed = analysed.join(keyed, on="interaction_id", how="left").with_columns(
        (pl.col("source_kind").is_null() & pl.col("label").is_in(list(KIND_LABELS))).alias("kind_filled")
    )
    return _Grouped(analysed, candidates, touched)


def _append_candidates(writer: load.Writer, candidates: pl.DataFrame) -> None:
    if not candidates.height:
        return
    writer.append(FaqCandidate.__table__, candidates.drop("group"))
    if writer.dialect == "postgresql":
        writer.execute(
            "SELECT setval(pg_get_serial_sequence('faq_candidates', 'id'), (SELECT MAX(id) FROM faq_candidates))"
        )


def _predicted_kinds(analysed: pl.DataFrame) -> pl.DataFrame:
    """interaction_id, kind of the texts whose source gave no kind (the label when it is a kind, else none)."""
    return analysed.filter(pl.col("source_kind").is_null()).select(
        "interaction_id", pl.when(pl.col("kind_filled")).then(pl.col("label")).alias("kind")
    )


def _summarise(result: TextRunResult, analysed: pl.DataFrame, days: list[date], kinds: pl.DataFrame) -> None:
    result.texts = analysed.height
    result.unique_texts = analysed.get_column("clean").n_unique()
    result.labels = dict(analysed.get_column("label").value_counts().iter_rows())
    result.kinds_filled = int(analysed.get_column("kind_filled").sum())
    result.days = days
    result.kinds = kinds


def analyse(rows: pl.DataFrame, dictionary: Sequence[Any]) -> pl.DataFrame:
    """The analysis of a batch's texts, for :func:`store_batch`: pure, no store access, so it can run while the
    load is being written. ``rows``: interaction_id, occurred_at (UTC), text and source_kind (the kind as the
    source gave it) of the batch's records with text."""
    return _analysed(rows, dictionary)


def store_batch(
    writer: load.Writer, analysed: pl.DataFrame, *, batch_ids: pl.Series, timezone: str, now: datetime
) -> TextRunResult:
    """Store a batch's texts as :func:`analyse` made them, through ``writer`` in its transaction (the caller
    commits): the batch's insights replaced, new questions grouped into the FAQ, counts and keyword facts of the
    days touched. The keyword facts are read back through the writer: the batch's interactions come first."""
    started = time.perf_counter()
    result = TextRunResult()
    # new questions join the existing FAQ groups
    ids = batch_ids.alias("interaction_id").to_frame()
    temp = writer.temp_keys(ids)
    previous = writer.query(
        f'SELECT DISTINCT t."faq_id" FROM "text_insights" AS t JOIN {temp} AS k '
        'ON k."interaction_id" = t."interaction_id" WHERE t."faq_id" IS NOT NULL'
    )
    previous_faq = set(previous.to_series().drop_nulls().cast(pl.Int64).to_list()) if previous.width else set()
    writer.delete_keys(TextInsight.__table__, ids)
    if analysed.is_empty():
        _refresh_faq_counts(writer, previous_faq, now, every=False)
        result.seconds = time.perf_counter() - started
        return result
    existing = _existing_questions(writer)
    highest = writer.query(f'SELECT MAX("id") AS m FROM "{FaqCandidate.__table__.name}"')
    first_id = int(highest.item(0, 0) or 0) + 1 if highest.height else 1
    grouped = _grouped(analysed, existing, first_id, now, result)
    analysed = grouped.analysed
    _append_candidates(writer, grouped.candidates)
    writer.append(TextInsight.__table__, analysed.select(insight_columns(now)))
    kinds = _predicted_kinds(analysed)
    _refresh_faq_counts(writer, grouped.touched | previous_faq, now, every=False)
    days = sorted(analysed.get_column("occurred_at").dt.convert_time_zone(timezone).dt.date().unique().to_list())
    writer.delete_keys(VocKeyword.__table__, pl.DataFrame({"day": days}, schema={"day": pl.Date}))
    keywords = _keyword_rows(writer, days, timezone)
    if keywords.height:
        writer.append(VocKeyword.__table__, keywords)
    _summarise(result, analysed, days, kinds)
    result.seconds = time.perf_counter() - started
    return result


def outcome(result: TextRunResult) -> str:
    """The text step's outcome as the run's ``load_batches.stats`` note it."""
    if not result.texts:
        return "no texts to analyse"
    return f"{result.texts} texts ({result.unique_texts} distinct) in {result.seconds:.1f} s"


#: Columns of the interactions that the keyword facts are cut by (besides the local day of occurred_at).
KEYWORD_DIMENSIONS: Final = ("channel", "stage", "touchpoint")


@dataclass
class FullTexts:
    """The text tables of a full pipeline run, computed while its load is written (:func:`plan_full`) and stored
    after its commit (:func:`write_full`): every stored text analysed, the FAQ regrouped from scratch, the keyword
    facts of every day, as ``etl.text.reanalyse_store`` leaves them."""

    candidates: pl.DataFrame
    insights: pl.DataFrame
    stored_kinds: pl.DataFrame  # interaction_id, kind: predicted kinds of stored records outside the batch
    keywords: pl.DataFrame
    result: TextRunResult
    now: datetime


def stored_texts_outside(engine: Engine, batch_ids: pl.Series) -> pl.DataFrame:
    """The stored texts a full run keeps but does not re-read (records outside the batch), as :func:`plan_full`
    takes them: interaction_id, occurred_at, text, source_kind and the keyword dimensions (read before the load's
    writer opens)."""
    frame = load.read_frame(
        engine,
        'SELECT i."interaction_id", i."occurred_at", i."kind", i."text", '
        + ", ".join(f'i."{c}"' for c in KEYWORD_DIMENSIONS)
        + ', t."kind_filled" FROM "interactions" AS i '
        'LEFT JOIN "text_insights" AS t ON t."interaction_id" = i."interaction_id" WHERE i."text" IS NOT NULL',
    )
    columns = ["interaction_id", "occurred_at", "text", "source_kind", *KEYWORD_DIMENSIONS]
    if frame.is_empty():
        return pl.DataFrame(
            schema={"interaction_id": pl.String, "occurred_at": _TS, "text": pl.String, "source_kind": pl.String}
            | dict.fromkeys(KEYWORD_DIMENSIONS, pl.String)
        )
    filled = frame.get_column("kind_filled").cast(pl.Boolean).fill_null(False)
    frame = load.from_store(frame.drop("kind_filled"), Interaction.__table__).with_columns(filled)
    return (
        frame.join(batch_ids.alias("interaction_id").to_frame(), on="interaction_id", how="anti")
        .filter(pl.col("text").str.strip_chars() != "")
        .with_columns(pl.when(pl.col("kind_filled")).then(None).otherwise(pl.col("kind")).alias("source_kind"))
        .select(columns)
    )


def plan_full(
    rows: pl.DataFrame, stored: pl.DataFrame, *, dictionary: Sequence[Any], timezone: str, now: datetime
) -> FullTexts:
    """Analyse every text of a full run: the batch's ``rows`` (interaction_id, occurred_at, text, source_kind and
    the keyword dimensions) and the ``stored`` texts outside the batch (:func:`stored_texts_outside`). Pure:
    no store access, so it runs while the load's tables are being written."""
    started = time.perf_counter()
    result = TextRunResult()
    texts = pl.concat([rows, stored], how="vertical_relaxed")
    analysed = _analysed(texts.select("interaction_id", "occurred_at", "text", "source_kind"), dictionary)
    if analysed.is_empty():
        empty = pl.DataFrame()
        return FullTexts(empty, empty, empty, empty, result, now)
    existing = pl.DataFrame(schema={"question": pl.String, "lang": pl.String, "faq_id": pl.Int64})
    grouped = _grouped(analysed, existing, 1, now, result)  # the full write empties faq_candidates first
    analysed = grouped.analysed
    insights = analysed.select(insight_columns(now))
    kinds = _predicted_kinds(analysed)
    stored_kinds = kinds.join(stored.select("interaction_id"), on="interaction_id", how="semi")
    per_text = insights.select("interaction_id", "label", "sentiment", "terms", "topics").join(
        texts.select("interaction_id", "occurred_at", *KEYWORD_DIMENSIONS), on="interaction_id"
    )
    keywords = keyword_facts(per_text.lazy(), timezone).collect()
    days = sorted(keywords.get_column("day").unique().to_list()) if keywords.height else []
    _summarise(result, analysed, days, kinds)
    result.seconds = time.perf_counter() - started
    return FullTexts(grouped.candidates, insights, stored_kinds, keywords, result, now)


def write_full(engine: Engine, texts: FullTexts, *, batch_id: int | None = None) -> TextRunResult:
    """Replace the text tables with a full run's (:func:`plan_full`) in one transaction, after the load's commit."""
    started = time.perf_counter()
    result = texts.result
    with load.open_writer(engine) as writer:
        for table in (TextInsight, FaqCandidate, VocKeyword):
            writer.execute(f'DELETE FROM "{table.__table__.name}"')
        if texts.insights.height:
            _append_candidates(writer, texts.candidates)
            writer.append(TextInsight.__table__, texts.insights)
            if texts.stored_kinds.height:  # stored records analysed by an earlier run: their kind predicted again
                writer.update_from(Interaction.__table__, "interaction_id", texts.stored_kinds)
            writer.execute(REFRESH_EVERY_FAQ_COUNT, [texts.now])
            if texts.keywords.height:
                writer.append(VocKeyword.__table__, texts.keywords)
        result.seconds += time.perf_counter() - started
        note_outcome(writer, batch_id, "succeeded", outcome(result))
        writer.commit()
    return result


#: Every candidate's member count, recomputed over the whole store (no value comes from input).
REFRESH_EVERY_FAQ_COUNT: Final = (
    'UPDATE "faq_candidates" SET "texts" = '
    '(SELECT COUNT(*) FROM "text_insights" AS t WHERE t."faq_id" = "faq_candidates"."id"), "updated_at" = ?'
)


def _refresh_faq_counts(writer: load.Writer, ids: set[int], now: datetime, *, every: bool) -> None:
    """``faq_candidates.texts``: members over the whole store, for ``ids`` (or every candidate)."""
    table = FaqCandidate.__table__.name
    count = f'(SELECT COUNT(*) FROM "text_insights" AS t WHERE t."faq_id" = "{table}"."id")'
    if every:
        writer.execute(REFRESH_EVERY_FAQ_COUNT, [now])
        return
    if not ids:
        return
    temp = writer.temp_keys(pl.DataFrame({"id": sorted(ids)}, schema={"id": pl.Int64}))
    writer.execute(
        f'UPDATE "{table}" SET "texts" = {count}, "updated_at" = ? WHERE "id" IN (SELECT "id" FROM {temp})', [now]
    )


def note_outcome(writer: load.Writer, batch_id: int | None, status: str, message: str) -> None:
    """The text step's outcome in the run's ``load_batches.stats`` (and, when it failed, in its message), through
    ``writer`` (after the run's own stats are written: those replace the stats)."""
    if batch_id is None:
        return
    table = LoadBatch.__table__.name
    found = writer.query(
        f'SELECT CAST("stats" AS TEXT) AS "stats", "message" FROM "{table}" WHERE "id" = ?', [batch_id]
    )
    if not found.height:
        return
    raw = found.item(0, "stats")
    stats = json.loads(raw) if raw else {}
    stats["text"] = {"status": status, "message": message}
    text = found.item(0, "message") or ""
    if status == "failed":
        text = f"{text} | {message}"[:4000]
    cast = "CAST(? AS JSONB)" if writer.dialect == "postgresql" else "?"
    writer.execute(
        f'UPDATE "{table}" SET "stats" = {cast}, "message" = ? WHERE "id" = ?',
        [json.dumps(stats, ensure_ascii=False, default=str), text, batch_id],
    )


def record_outcome(engine: Engine, batch_id: int, status: str, message: str) -> None:
    """Note the text step's outcome on the run (its own small transaction, after a failed text step)."""
    with load.open_writer(engine) as writer:
        note_outcome(writer, batch_id, status, message)
        writer.commit()


__all__ = [
    "KEYWORD_DIMENSIONS",
    "POOL_ABOVE",
    "FullTexts",
    "analyse",
    "note_outcome",
    "outcome",
    "plan_full",
    "record_outcome",
    "store_batch",
    "stored_texts_outside",
    "write_full",
]
