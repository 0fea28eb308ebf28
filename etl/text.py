"""Voice of the customer as an ETL step: analyse the texts of a batch, store the results, fill missing kinds.

Hook into etl.pipeline (two calls):

1. before touchpoints and daily facts, so filled complaints count on the boards (pure step)::

       resources = TextResources.from_store(session)          # user dictionary, loaded once per run
       frame = fill_kinds(frame, resources)                    # kind filled; source_kind = kind as given

2. after the batch's interactions are written, in a SQLAlchemy transaction::

       with transaction(engine) as session:
           analyse_texts(session, new.with_columns(pl.col("source_kind").alias("kind")),
                         timezone=settings.timezone, resources=resources)

   (a full rebuild run calls ``reanalyse_store(engine, timezone=...)`` instead: it also regroups the FAQ).

:func:`analyse_texts` takes ``interaction_id``, ``occurred_at`` (UTC), ``text`` and ``kind`` *as the source gave
it* (null = unknown); rows without text are skipped (and lose a stale insight). In the caller's transaction it

- writes one ``text_insights`` row per text (label, confidence, sentiment, terms, topics, FAQ group),
- sets ``interactions.kind`` to the predicted label where the source gave none (inquiry / complaint /
  suggestion / praise; *other* leaves it empty) and marks those rows ``kind_filled``; ``result.kinds`` lists
  them too, for a pipeline that prefers to write kinds itself (then pass ``fill_kind=False``),
- assigns inquiries to FAQ candidates (new groups created as needed),
- rebuilds ``voc_keywords`` for the local days the batch touches.

It is idempotent: running it again on the same rows gives the same store. Re-running everything (after a
user-dictionary edit, a lexicon change or a journey re-mapping): ``python -m etl.text --all`` (or ``--since
YYYY-MM-DD``), or :func:`reanalyse_store`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from cx.access import Principal, require
from cx.models import FaqCandidate, Interaction, TextInsight, UserDictionaryTerm, VocKeyword
from cx.types import utcnow
from cx.voc import keyword_facts, keyword_rows, pack_terms
from etl import faq
from etl.text_classify import Lexicon, classify, default_lexicon, default_topics, tag_topics, topics_with_dictionary
from etl.text_tokenise import DictionaryTerm, Tokenizer, clean_texts, content_terms, question_sentence, tokenise

#: Labels that are also interaction kinds (cx.schema.KINDS); "other" leaves the kind empty.
KIND_LABELS: Final = ("inquiry", "complaint", "suggestion", "praise")
CHUNK: Final = 5000
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class TextResources:
    """Everything the analysis needs: the tokenizer (with the user dictionary), the cue lexicon and the topics."""

    tokenizer: Tokenizer
    lexicon: Lexicon
    topics: pl.DataFrame

    @classmethod
    def default(cls, dictionary: Iterable[DictionaryTerm] = (), *, workers: int = 1) -> TextResources:
        tokenizer = Tokenizer(dictionary, workers=workers)
        return cls(tokenizer, default_lexicon(), topics_with_dictionary(default_topics(), tokenizer.entries))

    @classmethod
    def from_store(cls, session: Session, *, workers: int = 1) -> TextResources:
        """Built-in lexicons plus the user dictionary as stored now (loaded afresh for every run)."""
        return cls.default(load_dictionary(session), workers=workers)


def load_dictionary(session: Session) -> list[DictionaryTerm]:
    rows = session.execute(
        select(
            UserDictionaryTerm.term, UserDictionaryTerm.canonical, UserDictionaryTerm.topic, UserDictionaryTerm.category
        )
    )
    return [DictionaryTerm(term, canonical, topic, category) for term, canonical, topic, category in rows]


# --------------------------------------------------------------------------------------------- the analysis


def analyse_frame(rows: pl.LazyFrame, resources: TextResources) -> pl.LazyFrame:
    """Per row of ``rows`` (interaction_id, text): clean, lang, label, confidence, sentiment, terms, topics, question.

    Identical cleaned texts are analysed once. ``terms`` and ``topics`` are sorted lists; ``question`` is the
    normalised question (sorted keyword terms) of inquiries, null otherwise.
    """
    cleaned = clean_texts(rows.select("interaction_id", "text"))
    docs = cleaned.select("clean", "lang").unique("clean", maintain_order=True).with_row_index("doc").collect().lazy()
    tokens = tokenise(docs.select("doc", "clean"), resources.tokenizer).collect().lazy()
    labels = classify(docs, tokens, resources.lexicon).select("doc", "label", "confidence", "sentiment")
    terms = content_terms(tokens, resources.tokenizer).group_by("doc").agg(pl.col("term").sort().alias("terms"))
    asked = (
        content_terms(question_sentence(tokens), resources.tokenizer)
        .filter(~pl.col("term").is_in(resources.tokenizer.names))
        .group_by("doc")
        .agg(pl.col("term").unique().sort().alias("asked"))
    )
    topics = tag_topics(tokens, resources.topics).group_by("doc").agg(pl.col("topic").sort().alias("topics"))
    per_doc = (
        docs.join(labels, on="doc", how="left")
        .join(terms, on="doc", how="left")
        .join(topics, on="doc", how="left")
        .join(asked, on="doc", how="left")
        .with_columns(
            pl.col("terms").fill_null(pl.lit([], pl.List(pl.String))),
            pl.col("topics").fill_null(pl.lit([], pl.List(pl.String))),
        )
        .with_columns(
            pl.when((pl.col("label") == "inquiry") & (pl.col("asked").list.len() > 0))
            .then(pl.col("asked").list.join(" ").str.slice(0, 500))
            .alias("question")
        )
        .drop("doc", "lang", "asked")
    )
    return cleaned.drop("text").join(per_doc, on="clean", how="left", maintain_order="left")


def fill_kinds(rows: pl.LazyFrame, resources: TextResources) -> pl.LazyFrame:
    """Pure step for the pipeline, before touchpoints and daily facts: ``kind`` filled with the predicted class
    where the source gave none (inquiry / complaint / suggestion / praise; *other* stays empty), and the kind
    as the source gave it kept in ``source_kind`` (pass that as ``kind`` to :func:`analyse_texts` later).
    ``rows`` needs unique ``interaction_id`` plus ``text`` and ``kind``."""
    texts = rows.select(pl.col("interaction_id").cast(pl.String), pl.col("text").cast(pl.String)).filter(
        pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != "")
    )
    predicted = (
        analyse_frame(texts, resources)
        .select("interaction_id", pl.col("label").alias("_predicted"))
        .unique("interaction_id", keep="first")
        .collect()
        .lazy()
    )
    return (
        rows.join(predicted, on="interaction_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("kind").alias("source_kind"),
            pl.when(pl.col("kind").is_null() & pl.col("_predicted").is_in(list(KIND_LABELS)))
            .then(pl.col("_predicted"))
            .otherwise(pl.col("kind"))
            .alias("kind"),
        )
        .drop("_predicted")
    )


# --------------------------------------------------------------------------------------------- the ETL step


@dataclass
class TextRunResult:
    """What one run did; ``kinds`` has (interaction_id, kind) for every text whose source gave no kind."""

    texts: int = 0
    unique_texts: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    kinds_filled: int = 0
    faq_new: int = 0
    faq_joined: int = 0
    days: list[date] = field(default_factory=list)
    seconds: float = 0.0
    kinds: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"interaction_id": pl.String, "kind": pl.String})
    )

    def merge(self, other: TextRunResult) -> None:
        self.texts += other.texts
        self.unique_texts += other.unique_texts
        for label, count in other.labels.items():
            self.labels[label] = self.labels.get(label, 0) + count
        self.kinds_filled += other.kinds_filled
        self.faq_new += other.faq_new
        self.faq_joined += other.faq_joined
        self.days = sorted(set(self.days) | set(other.days))
        self.kinds = pl.concat([self.kinds, other.kinds])


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _frame(session: Session, statement: Any, schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(session.execute(statement).all(), schema=schema, orient="row")


def _batch_rows(interactions: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    lf = interactions.lazy()
    names = lf.collect_schema().names()
    missing = [c for c in ("interaction_id", "occurred_at", "text") if c not in names]
    if missing:
        from cx.errors import EtlError

        raise EtlError(f"analyse_texts needs the columns {missing}; pass the batch's interactions as loaded")
    kind = pl.col("kind") if "kind" in names else pl.lit(None, pl.String)
    return (
        lf.select(
            pl.col("interaction_id").cast(pl.String),
            "occurred_at",
            kind.cast(pl.String).alias("source_kind"),
            pl.col("text").cast(pl.String),
        )
        .filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
        .unique("interaction_id", keep="last", maintain_order=True)
        .collect()
    )


def _ids(interactions: pl.DataFrame | pl.LazyFrame) -> list[str]:
    return interactions.lazy().select(pl.col("interaction_id").cast(pl.String)).collect().to_series().to_list()


def _local_days(occurred: pl.Series, timezone: str) -> list[date]:
    return sorted(occurred.dt.convert_time_zone(timezone).dt.date().unique().drop_nulls().to_list())


def _assign_faq(session: Session, analysed: pl.DataFrame) -> tuple[pl.DataFrame, int, int, set[int]]:
    """faq_id per question row (interaction_id, faq_id); creates new FAQ candidates. Returns ids touched."""
    questions = analysed.filter(pl.col("question").is_not_null())
    if questions.is_empty():
        return pl.DataFrame(schema={"interaction_id": pl.String, "faq_id": pl.Int64}), 0, 0, set()
    existing = _frame(
        session,
        select(TextInsight.question, TextInsight.lang, TextInsight.faq_id)
        .where(TextInsight.faq_id.is_not(None))
        .distinct(),
        {"question": pl.String, "lang": pl.String, "faq_id": pl.Int64},
    )
    grouping = faq.group_questions(questions.select("question", "lang"), existing)
    keyed = questions.join(grouping.groups, on=["question", "lang"], how="left")
    fresh = keyed.filter(pl.col("group").is_not_null())
    created: dict[int, int] = {}
    if fresh.height:
        candidates: dict[int, FaqCandidate] = {}
        # representative: the most frequent key of the group, its most frequent wording, its latest text
        for row in faq.faq_representatives(fresh).iter_rows(named=True):
            title = row["clean"][:1].upper() + row["clean"][1:]
            candidate = FaqCandidate(
                lang=row["lang"],
                title=title[:500],
                question=row["question"][:500],
                keywords=pack_terms(row["question"].split(" "))[:500],
                example_interaction_id=row["example"],
            )
            session.add(candidate)
            candidates[row["group"]] = candidate
        session.flush()
        created = {group: candidate.id for group, candidate in candidates.items()}
    mapping = pl.DataFrame(
        {"group": list(created), "new_id": list(created.values())}, schema={"group": pl.Int64, "new_id": pl.Int64}
    )
    assigned = keyed.join(mapping, on="group", how="left").select(
        "interaction_id", pl.coalesce("faq_id", "new_id").alias("faq_id")
    )
    touched = set(assigned["faq_id"].drop_nulls().to_list())
    return assigned, grouping.new_groups, grouping.joined_existing, touched


def analyse_texts(
    session: Session,
    interactions: pl.DataFrame | pl.LazyFrame,
    *,
    timezone: str = "Asia/Shanghai",
    fill_kind: bool = True,
    resources: TextResources | None = None,
    workers: int = 1,
    refresh: bool = True,
    progress: Progress | None = None,
) -> TextRunResult:
    """Analyse and store the texts of a batch (see the module docstring); the caller commits."""
    started = time.perf_counter()
    report = progress or (lambda _f, _m: None)
    rows = _batch_rows(interactions)
    result = TextRunResult()
    emptied = sorted(set(_ids(interactions)) - set(rows["interaction_id"].to_list()))
    for part in _chunks(emptied):  # a record re-loaded without text keeps no stale insight
        session.execute(delete(TextInsight).where(TextInsight.interaction_id.in_(part)))
    if rows.is_empty():
        return result
    resources = resources or TextResources.from_store(session, workers=workers)
    report(0.05, "analysing texts")
    analysed = (
        analyse_frame(rows.lazy(), resources)
        .join(rows.lazy().select("interaction_id", "occurred_at", "source_kind"), on="interaction_id")
        .collect()
    )
    report(0.5, "grouping questions")
    ids = analysed["interaction_id"].to_list()
    previous_faq = set()
    for part in _chunks(ids):
        previous_faq |= set(
            session.scalars(
                select(TextInsight.faq_id).where(TextInsight.interaction_id.in_(part), TextInsight.faq_id.is_not(None))
            )
        )
    assigned, faq_new, faq_joined, touched = _assign_faq(session, analysed)
    analysed = analysed.join(assigned, on="interaction_id", how="left")
    fills = pl.col("source_kind").is_null() & pl.col("label").is_in(list(KIND_LABELS))
    analysed = analysed.with_columns(fills.alias("kind_filled"))
    report(0.6, "storing results")
    for part in _chunks(ids):
        session.execute(delete(TextInsight).where(TextInsight.interaction_id.in_(part)))
    now = utcnow()
    records = analysed.select(insight_columns(now)).to_dicts()
    for part in _chunks(records):
        session.execute(insert(TextInsight), list(part))
    kinds = analysed.filter(pl.col("source_kind").is_null()).select(
        "interaction_id", pl.when(pl.col("kind_filled")).then(pl.col("label")).alias("kind")
    )
    if fill_kind and kinds.height:
        for part in _chunks(kinds.to_dicts()):
            session.execute(update(Interaction), list(part))
    for part in _chunks(sorted(touched | previous_faq)):
        session.execute(
            update(FaqCandidate)
            .where(FaqCandidate.id.in_(part))
            .values(texts=select(func.count()).where(TextInsight.faq_id == FaqCandidate.id).scalar_subquery())
        )
    days = _local_days(analysed["occurred_at"], timezone)
    if refresh:
        report(0.8, "counting keywords")
        refresh_keywords(session, days, timezone)
    report(1.0, "done")
    result.texts = analysed.height
    result.unique_texts = analysed["clean"].n_unique()
    result.labels = dict(analysed["label"].value_counts().iter_rows())
    result.kinds_filled = int(analysed["kind_filled"].sum())
    result.faq_new, result.faq_joined = faq_new, faq_joined
    result.days = days
    result.kinds = kinds
    result.seconds = time.perf_counter() - started
    session.flush()
    return result


def pack_terms_expr(column: str) -> pl.Expr:
    """A list column as the stored ``|a|b|`` string ('' for an empty list)."""
    return (
        pl.when(pl.col(column).list.len() > 0)
        .then(pl.lit("|") + pl.col(column).list.join("|") + pl.lit("|"))
        .otherwise(pl.lit(""))
    )


def insight_columns(now: datetime) -> list[pl.Expr]:
    """The ``text_insights`` row of each analysed text (with its faq_id and kind_filled), analysed at ``now``."""
    return [
        pl.col("interaction_id"),
        pl.col("lang").fill_null(""),
        pl.col("label"),
        pl.col("confidence"),
        pl.col("sentiment"),
        pack_terms_expr("terms").alias("terms"),
        pack_terms_expr("topics").alias("topics"),
        pl.col("question"),
        pl.col("faq_id").cast(pl.Int64),
        pl.col("kind_filled"),
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("analysed_at"),
    ]


def _utc_bounds(days: Sequence[date], timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime.combine(min(days), datetime.min.time(), zone)
    end = datetime.combine(max(days) + timedelta(days=1), datetime.min.time(), zone)
    return start, end


def refresh_keywords(session: Session, days: Sequence[date], timezone: str) -> int:
    """Rebuild ``voc_keywords`` for ``days`` (local dates) from text_insights + interactions; returns rows written."""
    if not days:
        return 0
    for part in _chunks(sorted(days), 500):
        session.execute(delete(VocKeyword).where(VocKeyword.day.in_(part)))
    start, end = _utc_bounds(days, timezone)
    rows = keyword_rows(session, Interaction.occurred_at >= start, Interaction.occurred_at < end)
    facts = keyword_facts(rows.lazy(), timezone).filter(pl.col("day").is_in(list(days))).collect()
    for part in _chunks(facts.to_dicts(), 20_000):
        session.execute(insert(VocKeyword), list(part))
    return facts.height


# --------------------------------------------------------------------------------------------- whole store


def reanalyse_store(
    engine: Engine,
    *,
    timezone: str,
    since: date | None = None,
    workers: int = 2,
    chunk: int = 200_000,
    progress: Progress | None = None,
) -> TextRunResult:
    """Analyse every stored text again (or those from ``since`` on), in one transaction.

    A full run also regroups the FAQ candidates from scratch. Kinds filled by an earlier run are predicted
    again; kinds given by the source are never touched. Run etl.aggregate afterwards if kinds changed.
    """
    from cx.db import transaction

    report = progress or (lambda _f, _m: None)
    total = TextRunResult()
    started = time.perf_counter()
    with transaction(engine) as session:
        resources = TextResources.from_store(session, workers=workers)
        if since is None:
            # kinds this analysis filled go back to empty; then everything is analysed from scratch
            session.execute(
                update(Interaction)
                .where(
                    Interaction.interaction_id.in_(select(TextInsight.interaction_id).where(TextInsight.kind_filled))
                )
                .values(kind=None)
            )
            session.execute(delete(TextInsight))
            session.execute(delete(FaqCandidate))
        condition = Interaction.text.is_not(None)
        if since is not None:
            condition = condition & (Interaction.occurred_at >= _utc_bounds([since], timezone)[0])
        count = session.scalar(select(func.count()).select_from(Interaction).where(condition)) or 0
        last = ""
        while True:
            batch = _frame(
                session,
                select(
                    Interaction.interaction_id,
                    Interaction.occurred_at,
                    Interaction.kind,
                    Interaction.text,
                    TextInsight.kind_filled,
                )
                .outerjoin(TextInsight, TextInsight.interaction_id == Interaction.interaction_id)
                .where(condition, Interaction.interaction_id > last)
                .order_by(Interaction.interaction_id)
                .limit(chunk),
                {
                    "interaction_id": pl.String,
                    "occurred_at": pl.Datetime("us", "UTC"),
                    "kind": pl.String,
                    "text": pl.String,
                    "kind_filled": pl.Boolean,
                },
            )
            if batch.is_empty():
                break
            last = batch["interaction_id"][-1]
            batch = batch.with_columns(
                pl.when(pl.col("kind_filled").fill_null(False)).then(None).otherwise(pl.col("kind")).alias("kind")
            )
            part = analyse_texts(session, batch, timezone=timezone, resources=resources, refresh=False)
            total.merge(part)
            report(min(0.9, total.texts / max(count, 1) * 0.9), f"{total.texts} / {count}")
        if since is None:
            session.execute(delete(VocKeyword))
            days = sorted(
                set(
                    _local_days(
                        _frame(
                            session,
                            select(Interaction.occurred_at).join(
                                TextInsight, TextInsight.interaction_id == Interaction.interaction_id
                            ),
                            {"occurred_at": pl.Datetime("us", "UTC")},
                        )["occurred_at"],
                        timezone,
                    )
                )
            )
        else:
            days = total.days
        report(0.92, "counting keywords")
        refresh_keywords(session, days, timezone)
    total.days = days
    total.seconds = time.perf_counter() - started
    report(1.0, "done")
    return total


def reanalyse_as(
    engine: Engine, principal: Principal, *, timezone: str, progress: Progress | None = None
) -> TextRunResult:
    """:func:`reanalyse_store` over the whole store for a signed-in admin (voc.edit_dictionary), audited."""
    from cx import audit
    from cx.db import transaction

    require(principal, "voc.edit_dictionary")
    result = reanalyse_store(engine, timezone=timezone, progress=progress)
    with transaction(engine) as session:
        audit.record(session, principal, "voc.reanalyse", object_type="voc", detail={"texts": result.texts})
    return result


def preview_tokens(session: Session, principal: Principal, text: str) -> list[str]:
    """How ``text`` is split into words with the stored dictionary (the dictionary editor's preview)."""
    require(principal, "voc.edit_dictionary")
    tokens = TextResources.default(load_dictionary(session)).tokenizer.cut(text)
    return [token for token in tokens if token != ","]


# --------------------------------------------------------------------------------------------- dictionary seeding


def demo_dictionary() -> list[DictionaryTerm]:
    """The demo dataset's brand and product names (etl.demo_texts), as user-dictionary entries."""
    from etl import demo_texts

    entries = [
        DictionaryTerm(demo_texts.BRAND_ZH, None, None, "brand"),
        DictionaryTerm(demo_texts.BRAND_EN, None, None, "brand"),
    ]
    for zh, en, _price in demo_texts.PRODUCTS:
        entries.append(DictionaryTerm(zh, en, None, "product"))
        entries.append(DictionaryTerm(en, None, None, "product"))
    return entries


def seed_dictionary(session: Session, entries: Iterable[DictionaryTerm]) -> int:
    """Add the entries that are not in the user dictionary yet; returns how many were added."""
    from etl.text_tokenise import normalise_term

    present = set(session.scalars(select(UserDictionaryTerm.term)))
    added = 0
    for entry in entries:
        term = normalise_term(entry.term)
        if term and term not in present:
            session.add(
                UserDictionaryTerm(
                    term=term,
                    canonical=normalise_term(entry.canonical) if entry.canonical else None,
                    topic=entry.topic,
                    category=entry.category,
                )
            )
            present.add(term)
            added += 1
    session.flush()
    return added


# --------------------------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="analyse every stored text again (regroups the FAQ)")
    parser.add_argument("--since", type=date.fromisoformat, help="analyse texts from this local date on (YYYY-MM-DD)")
    parser.add_argument("--workers", type=int, default=2, help="processes for tokenising large runs (default 2)")


def run(args: argparse.Namespace) -> int:
    """``python -m etl.text --all`` / ``--since 2026-01-01``: re-analyse stored texts and print a summary."""
    from cx.settings import get_settings
    from cx.store import open_store

    if not args.all and args.since is None:
        print("say what to analyse: --all, or --since YYYY-MM-DD", file=sys.stderr)
        return 2
    settings = get_settings()
    engine = open_store(settings)
    result = reanalyse_store(
        engine,
        timezone=settings.timezone,
        since=None if args.all else args.since,
        workers=args.workers,
        progress=lambda fraction, message: print(f"{fraction:5.0%} {message}", file=sys.stderr),
    )
    labels = ", ".join(f"{k} {v}" for k, v in sorted(result.labels.items()))
    print(
        f"analysed {result.texts} texts ({result.unique_texts} distinct) in {result.seconds:.1f} s: {labels}; "
        f"kinds filled {result.kinds_filled}; FAQ groups new {result.faq_new}; days {len(result.days)}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    from cx.errors import CxError

    parser = argparse.ArgumentParser(prog="python -m etl.text", description="voice of the customer: analyse texts")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
