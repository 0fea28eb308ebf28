"""The ETL run's text step: analyse the batch's texts (etl.text) and store the results in bulk (ADBC / COPY).

Runs after the core load is committed, in its own transaction (etl.pipeline), so a failure leaves the load in
place; :func:`record_outcome` notes the failure and the repair command on the run's ``load_batches`` row.

Same results as ``etl.text.analyse_texts`` (incremental run) and ``etl.text.reanalyse_store`` (full run: every
stored text, FAQ regrouped from scratch, keyword facts of every day), written the way the core load writes:

- ``text_insights`` of the batch's records replaced (records re-loaded without text lose theirs),
- new FAQ candidates (explicit ids after the highest one; the PostgreSQL sequence is moved past them),
- ``interactions.kind`` set to the predicted label where the source gave none (the core load already wrote the
  batch's; a full run also refreshes stored records analysed before),
- member counts of the FAQ candidates touched, and ``voc_keywords`` of the local days touched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine

from cx.models import FaqCandidate, Interaction, LoadBatch, TextInsight, VocKeyword
from cx.types import utcnow
from cx.voc import keyword_facts, pack_terms
from etl import faq, load
from etl.text import KIND_LABELS, TextResources, TextRunResult, analyse_frame, insight_columns

#: Distinct texts above which tokenising uses a pool of two processes.
POOL_ABOVE: Final = 60_000
_TS: Final = pl.Datetime("us", "UTC")


def _stored_texts(writer: load.Writer, batch: pl.DataFrame) -> pl.DataFrame:
    """Every stored text outside the batch, with the kind as its source gave it (a kind this analysis filled
    earlier counts as none, as in etl.text.reanalyse_store)."""
    frame = writer.query(
        'SELECT i."interaction_id", i."occurred_at", i."kind", i."text", t."kind_filled" FROM "interactions" AS i '
        'LEFT JOIN "text_insights" AS t ON t."interaction_id" = i."interaction_id" WHERE i."text" IS NOT NULL'
    )
    if frame.is_empty():
        return batch.clear()
    frame = load.from_store(frame.drop("kind_filled"), Interaction.__table__).with_columns(
        frame.get_column("kind_filled").cast(pl.Boolean).fill_null(False)
    )
    return (
        frame.join(batch.select("interaction_id"), on="interaction_id", how="anti")
        .filter(pl.col("text").str.strip_chars() != "")
        .select(
            "interaction_id",
            "occurred_at",
            "text",
            pl.when(pl.col("kind_filled")).then(None).otherwise(pl.col("kind")).alias("source_kind"),
        )
    )


def _existing_questions(writer: load.Writer) -> pl.DataFrame:
    """(question, lang, faq_id) of the grouped texts. SQLite reads the table in one sequential pass: through the
    ``faq_id`` index it looked up ~200,000 rows one by one for a few hundred distinct keys (0.43 s, now 0.14 s)."""
    table = '"text_insights" NOT INDEXED' if writer.dialect == "sqlite" else '"text_insights"'
    frame = writer.query(f'SELECT DISTINCT "question", "lang", "faq_id" FROM {table} WHERE "faq_id" IS NOT NULL')
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


def _keyword_rows(writer: load.Writer, days: Sequence[date] | None, timezone: str) -> pl.DataFrame:
    """``voc_keywords`` rows of ``days`` (None: every day) from the stored texts as this transaction sees them."""
    sql = (
        'SELECT i."occurred_at", i."channel", i."stage", i."touchpoint", t."label", t."sentiment", t."terms", '
        't."topics" FROM "interactions" AS i JOIN "text_insights" AS t ON t."interaction_id" = i."interaction_id"'
    )
    params: list[Any] = []
    if days is not None:
        sql += ' WHERE i."occurred_at" >= ? AND i."occurred_at" < ?'
        params = list(_utc_bounds(days, timezone))
    rows = writer.query(sql, params)
    if rows.is_empty():
        return pl.DataFrame()
    rows = load.from_store(rows.select("occurred_at"), Interaction.__table__).hstack(
        rows.drop("occurred_at").with_columns(pl.col("sentiment").cast(pl.Float64))
    )
    facts = keyword_facts(rows.lazy(), timezone)
    if days is not None:
        facts = facts.filter(pl.col("day").is_in(list(days)))
    return facts.collect()


def analyse_batch(
    engine: Engine,
    rows: pl.DataFrame,
    *,
    batch_ids: pl.Series,
    full: bool,
    dictionary: Sequence[Any],
    timezone: str,
    batch_id: int | None = None,
) -> TextRunResult:
    """Analyse and store the texts of a loaded batch (see the module doc) in one transaction.

    ``rows``: interaction_id, occurred_at (UTC), text and source_kind (the kind as the source gave it) of the
    batch's records with text; ``batch_ids``: every record the batch wrote. ``full``: every stored text.
    """
    started = time.perf_counter()
    now = utcnow()
    result = TextRunResult()
    with load.open_writer(engine) as writer:
        if full:
            rows = pl.concat([rows, _stored_texts(writer, rows)], how="vertical_relaxed")
        distinct = rows.get_column("text").n_unique() if rows.height else 0
        analysed = pl.DataFrame()
        if rows.height:
            resources = TextResources.default(dictionary, workers=2 if distinct > POOL_ABOVE else 1)
            analysed = (
                analyse_frame(rows.lazy().select("interaction_id", "text"), resources)
                .join(rows.lazy().select("interaction_id", "occurred_at", "source_kind"), on="interaction_id")
                .collect()
            )
        # FAQ groups: regrouped from scratch by a full run, else new questions join the existing groups
        if full:
            writer.execute(f'DELETE FROM "{TextInsight.__table__.name}"')
            writer.execute(f'DELETE FROM "{FaqCandidate.__table__.name}"')
            existing = pl.DataFrame(schema={"question": pl.String, "lang": pl.String, "faq_id": pl.Int64})
            previous_faq: set[int] = set()
        else:
            ids = batch_ids.alias("interaction_id").to_frame()
            temp = writer.temp_keys(ids)
            previous = writer.query(
                f'SELECT DISTINCT t."faq_id" FROM "text_insights" AS t JOIN {temp} AS k '
                'ON k."interaction_id" = t."interaction_id" WHERE t."faq_id" IS NOT NULL'
            )
            previous_faq = set(previous.to_series().drop_nulls().cast(pl.Int64).to_list()) if previous.width else set()
            writer.delete_keys(TextInsight.__table__, ids)
            existing = _existing_questions(writer)
        if analysed.is_empty():
            _refresh_faq_counts(writer, previous_faq, now, every=False)
            _record(writer, batch_id, "succeeded", "no texts to analyse")
            writer.commit()
            result.seconds = time.perf_counter() - started
            return result
        questions = analysed.filter(pl.col("question").is_not_null())
        keyed = pl.DataFrame(schema={"interaction_id": pl.String, "faq_id": pl.Int64})
        touched: set[int] = set()
        if questions.height:
            grouping = faq.group_questions(questions.select("question", "lang"), existing)
            keyed = questions.join(grouping.groups, on=["question", "lang"], how="left")
            highest = writer.query(f'SELECT MAX("id") AS m FROM "{FaqCandidate.__table__.name}"')
            first_id = int(highest.item(0, 0) or 0) + 1 if highest.height else 1
            candidates = _new_candidates(keyed, first_id, now)
            if candidates.height:
                writer.append(FaqCandidate.__table__, candidates.drop("group"))
                if writer.dialect == "postgresql":
                    writer.execute(
                        "SELECT setval(pg_get_serial_sequence('faq_candidates', 'id'), "
                        "(SELECT MAX(id) FROM faq_candidates))"
                    )
            keyed = keyed.join(candidates.select("group", pl.col("id").alias("new_id")), on="group", how="left").select(
                "interaction_id", pl.coalesce("faq_id", "new_id").alias("faq_id")
            )
            touched = set(keyed.get_column("faq_id").drop_nulls().to_list())
            result.faq_new, result.faq_joined = grouping.new_groups, grouping.joined_existing
        analysed = analysed.join(keyed, on="interaction_id", how="left").with_columns(
            (pl.col("source_kind").is_null() & pl.col("label").is_in(list(KIND_LABELS))).alias("kind_filled")
        )
        writer.append(TextInsight.__table__, analysed.select(insight_columns(now)))
        kinds = analysed.filter(pl.col("source_kind").is_null()).select(
            "interaction_id", pl.when(pl.col("kind_filled")).then(pl.col("label")).alias("kind")
        )
        if full:  # stored records analysed by an earlier run: their filled kind is predicted again
            writer.update_from(Interaction.__table__, "interaction_id", kinds)
        _refresh_faq_counts(writer, touched | previous_faq, now, every=full)
        days = sorted(analysed.get_column("occurred_at").dt.convert_time_zone(timezone).dt.date().unique().to_list())
        if full:
            writer.execute(f'DELETE FROM "{VocKeyword.__table__.name}"')
            keywords = _keyword_rows(writer, None, timezone)
        else:
            writer.delete_keys(VocKeyword.__table__, pl.DataFrame({"day": days}, schema={"day": pl.Date}))
            keywords = _keyword_rows(writer, days, timezone)
        if keywords.height:
            writer.append(VocKeyword.__table__, keywords)
        result.texts = analysed.height
        result.unique_texts = analysed.get_column("clean").n_unique()
        result.labels = dict(analysed.get_column("label").value_counts().iter_rows())
        result.kinds_filled = int(analysed.get_column("kind_filled").sum())
        result.days = days
        result.kinds = kinds
        result.seconds = time.perf_counter() - started
        _record(
            writer,
            batch_id,
            "succeeded",
            f"{result.texts} texts ({result.unique_texts} distinct) in {result.seconds:.1f} s",
        )
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


def _record(writer: load.Writer, batch_id: int | None, status: str, message: str) -> None:
    """The text step's outcome in the run's ``load_batches.stats`` (and, when it failed, in its message)."""
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
        _record(writer, batch_id, status, message)
        writer.commit()


__all__ = ["POOL_ABOVE", "analyse_batch", "record_outcome"]
