"""ETL step: records of erased customers (their identifiers hash into the suppression list) are set aside, counted.

Use ``split_suppressed`` in the pipeline so the removed rows are counted in the batch stats
(``stats["suppressed"] = removed.height``); ``drop_suppressed`` is the same step for ``LazyFrame.pipe`` chains.
Normalising is idempotent, so the step gives the same answer before or after etl.normalise has run.

>>> import polars as pl
>>> from cx.suppression import SuppressionSet, hash_identifier
>>> gone = SuppressionSet("salt", frozenset({hash_identifier("salt", "phone", "+8613800138000")}), frozenset({"phone"}))
>>> lf = pl.LazyFrame({"record_id": ["a", "b"], "phone": ["138 0013 8000", "13900139000"]})
>>> kept, removed = split_suppressed(lf, gone)
>>> kept.collect()["record_id"].to_list(), removed.collect()["record_id"].to_list()
(['b'], ['a'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import polars as pl

from cx.schema import STRONG_IDENTIFIERS
from cx.suppression import SuppressionSet, hash_identifier
from etl.normalise import normalise_identifiers

SUPPRESSED: Final = "_suppressed"


def _matcher(id_type: str, suppression: SuppressionSet, region: str) -> Callable[[pl.Series], pl.Series]:
    """A batch function: which values of one identifier column hash into the list (hashes unique values only)."""

    def match(values: pl.Series) -> pl.Series:
        unique = values.drop_nulls().unique()
        if unique.is_empty():
            return pl.Series(values.name, [False] * len(values), dtype=pl.Boolean)
        normalised = (
            normalise_identifiers(pl.LazyFrame({id_type: unique}), region=region).select(id_type).collect().to_series()
        )
        listed = {
            value
            for value in set(normalised.drop_nulls().to_list())
            if hash_identifier(suppression.salt, id_type, value) in suppression.hashes
        }
        hits = [raw for raw, value in zip(unique.to_list(), normalised.to_list(), strict=True) if value in listed]
        return values.is_in(hits).fill_null(False)

    return match


def flag_suppressed(records: pl.LazyFrame, suppression: SuppressionSet, *, region: str = "CN") -> pl.LazyFrame:
    """``records`` with a boolean column ``_suppressed`` (True when any identifier is on the list)."""
    if not suppression:
        return records.with_columns(pl.lit(False).alias(SUPPRESSED))
    schema = records.collect_schema()
    columns = [c for c in STRONG_IDENTIFIERS if c in schema and c in suppression.id_types]
    if not columns:
        return records.with_columns(pl.lit(False).alias(SUPPRESSED))
    flags = [
        pl.col(c)
        .cast(pl.String)
        .map_batches(_matcher(c, suppression, region), return_dtype=pl.Boolean)
        .fill_null(False)
        for c in columns
    ]
    return records.with_columns(pl.any_horizontal(flags).alias(SUPPRESSED))


def split_suppressed(
    records: pl.LazyFrame, suppression: SuppressionSet, *, region: str = "CN"
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(kept, removed): the records to load, and those of erased customers (count them: ``removed`` height).

    With an empty list nothing is computed: ``records`` comes back as it is, with an empty ``removed``.
    """
    if not suppression:
        return records, records.limit(0)
    flagged = flag_suppressed(records, suppression, region=region).cache()
    kept = flagged.filter(~pl.col(SUPPRESSED)).drop(SUPPRESSED)
    removed = flagged.filter(pl.col(SUPPRESSED)).drop(SUPPRESSED)
    return kept, removed


def drop_suppressed(records: pl.LazyFrame, suppression: SuppressionSet, *, region: str = "CN") -> pl.LazyFrame:
    """The records to load (``LazyFrame -> LazyFrame``); prefer split_suppressed where the count is reported."""
    return split_suppressed(records, suppression, region=region)[0]


_JSON_STRING = r'"((?:[^"\\]|\\.)*)"'
_JSON_NUMBER = r"[:\[,]\s*(\d{7,})"


def _texts_match(suppression: SuppressionSet, region: str) -> Callable[[pl.Series], pl.Series]:
    """A batch function over quarantined rows' text (raw JSON, reason): does any quoted value hash into the list."""
    id_types = sorted(suppression.id_types)

    def match(texts: pl.Series) -> pl.Series:
        frame = pl.DataFrame({"text": texts}).with_row_index("_row")
        tokens = (
            frame.select(
                "_row",
                pl.concat_list(
                    pl.col("text").str.extract_all(_JSON_STRING), pl.col("text").str.extract_all(_JSON_NUMBER)
                ).alias("token"),
            )
            .explode("token")
            .drop_nulls("token")
            .with_columns(
                pl.col("token")
                .str.strip_prefix('"')
                .str.strip_suffix('"')
                .str.replace_all(r"^[:\[,]\s*", "")
                .str.replace_all(r'\\"', '"', literal=True)
                .str.replace_all(r"\\", "\\", literal=True)
            )
        )
        unique = tokens.get_column("token").unique()
        hits: set[str] = set()
        if not unique.is_empty():
            normalised = normalise_identifiers(pl.LazyFrame({t: unique for t in id_types}), region=region).collect()
            for id_type in id_types:
                for raw, value in zip(unique.to_list(), normalised.get_column(id_type).to_list(), strict=True):
                    if value is not None and hash_identifier(suppression.salt, id_type, value) in suppression.hashes:
                        hits.add(raw)
        if not hits:
            return pl.Series(texts.name, [False] * len(texts), dtype=pl.Boolean)
        rows = tokens.filter(pl.col("token").is_in(list(hits))).get_column("_row").unique().to_list()
        return frame.get_column("_row").is_in(rows).alias(texts.name)

    return match


def split_suppressed_quarantine(
    bad: pl.LazyFrame, suppression: SuppressionSet, *, region: str = "CN"
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(kept, removed) of quarantine rows (columns ``raw`` JSON and ``reason``): rows of erased customers are not
    written back to the quarantine table. Count ``removed`` with the suppressed rows of the batch."""
    if not suppression:
        return bad, bad.limit(0)
    names = bad.collect_schema().names()
    texts = [c for c in ("raw", "reason") if c in names]
    if not texts:
        return bad, bad.limit(0)
    flags = [
        pl.col(c).cast(pl.String).fill_null("").map_batches(_texts_match(suppression, region), return_dtype=pl.Boolean)
        for c in texts
    ]
    flagged = bad.with_columns(pl.any_horizontal(flags).alias(SUPPRESSED)).cache()
    return flagged.filter(~pl.col(SUPPRESSED)).drop(SUPPRESSED), flagged.filter(pl.col(SUPPRESSED)).drop(SUPPRESSED)
