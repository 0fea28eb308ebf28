"""Frequent questions: near-identical customer questions grouped into FAQ candidates (rapidfuzz, within blocks).

A question's *key* is its distinct keyword terms, sorted and joined by spaces (etl.text builds it: stop words,
question words, digits and order numbers are gone, so "怎么改收货地址？" and "如何修改收货地址" become
``地址 收货`` and ``修改 地址 收货``). Two keys are similar when they share keywords — the Dice share
``2 x shared / (terms of a + terms of b)`` reaches ``MIN_SHARED`` (2/3: "地址 收货" ~ "修改 地址 收货", but a
one-word key never swallows every longer question containing the word, and "cancel order" stays apart from
"change order") — or when their characters are nearly the same (rapidfuzz ``ratio`` >= ``MIN_CHARS`` = 90,
for misspellings such as "adress").

Comparing every key with every other does not scale, so keys are compared only within *blocks*: each key
joins the blocks of its two rarest terms (per language), large blocks are cut into slices of ``MAX_BLOCK``
keys, and each slice is scored at once (a sparse keyword-incidence product for the shared keywords, one
``rapidfuzz.process.cdist`` call for the characters). Grouping is incremental: new keys first
join the existing group of their best match, the rest form new groups as connected components.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

MIN_SHARED: Final = 2 / 3
MIN_CHARS: Final = 90.0
BLOCK_TERMS: Final = 2
MAX_BLOCK: Final = 2000


@dataclass(frozen=True)
class Grouping:
    """Result of :func:`group_questions`: ``groups`` has one row per new key (question, lang, faq_id, group)."""

    groups: pl.DataFrame
    new_groups: int
    joined_existing: int


def similarity(a: str, b: str) -> float:
    """0..100: the larger of the shared-keyword (Dice) share x 100 and the character similarity of two keys."""
    terms_a, terms_b = set(a.split()), set(b.split())
    dice = 2 * len(terms_a & terms_b) / (len(terms_a) + len(terms_b)) if terms_a or terms_b else 0.0
    return max(100 * dice, fuzz.ratio(a, b))


def _is_similar(score_shared: float, score_chars: float, min_shared: float, min_chars: float) -> bool:
    return score_shared >= min_shared - 1e-9 or score_chars >= min_chars


def blocks(keys: pl.DataFrame, per_key: int = BLOCK_TERMS) -> pl.DataFrame:
    """(block, idx): each key (row ``idx`` of ``keys`` with question and lang) in the blocks of its rarest terms."""
    terms = (
        keys.with_row_index("idx")
        .select("idx", "lang", pl.col("question").str.split(" ").alias("term"))
        .explode("term")
        .filter(pl.col("term") != "")
        .unique(["idx", "term"])
    )
    frequency = terms.group_by("lang", "term").agg(pl.len().alias("df"))
    return (
        terms.join(frequency, on=["lang", "term"])
        .sort("idx", "df", "term")
        .group_by("idx", maintain_order=True)
        .head(per_key)
        .select(pl.concat_str("lang", pl.lit(":"), "term").alias("block"), "idx")
    )


def _pairs(
    keys: list[str], members: np.ndarray, min_shared: float, min_chars: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, score) for every similar pair within one block slice (see the module docstring)."""
    texts = [keys[i] for i in members]
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for row, text in enumerate(texts):
        for term in set(text.split()):
            rows.append(row)
            cols.append(vocabulary.setdefault(term, len(vocabulary)))
    incidence = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), max(len(vocabulary), 1)))
    shared = (incidence @ incidence.T).toarray()
    sizes = np.asarray(incidence.sum(axis=1)).ravel()
    dice = 2 * shared / np.maximum(sizes[:, None] + sizes[None, :], 1)
    chars = process.cdist(texts, texts, scorer=fuzz.ratio, dtype=np.float32, workers=-1)
    similar = (dice >= min_shared - 1e-9) | (chars >= min_chars)
    np.fill_diagonal(similar, False)
    i, j = np.nonzero(similar)
    score = np.maximum(100 * dice[i, j], chars[i, j]).astype(np.float32)
    return members[i], members[j], score


def similar_pairs(keys: pl.DataFrame, min_shared: float = MIN_SHARED, min_chars: float = MIN_CHARS) -> pl.DataFrame:
    """(a, b, score) for every similar pair of keys (row indexes) that share a block."""
    membership = blocks(keys)
    questions = keys["question"].to_list()
    found_a, found_b, found_s = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0, np.float32)]
    grouped = membership.group_by("block").agg(pl.col("idx").sort()).filter(pl.col("idx").list.len() > 1)
    for members in grouped["idx"].to_list():
        array = np.asarray(members, dtype=np.int64)
        for start in range(0, len(array), MAX_BLOCK):
            a, b, s = _pairs(questions, array[start : start + MAX_BLOCK], min_shared, min_chars)
            found_a.append(a)
            found_b.append(b)
            found_s.append(s)
    return pl.DataFrame(
        {"a": np.concatenate(found_a), "b": np.concatenate(found_b), "score": np.concatenate(found_s)}
    ).unique(["a", "b"])


def group_questions(
    new: pl.DataFrame,
    existing: pl.DataFrame | None = None,
    *,
    min_shared: float = MIN_SHARED,
    min_chars: float = MIN_CHARS,
) -> Grouping:
    """Assign every new key to an existing FAQ group or to a new group.

    ``new``: distinct (question, lang) keys of this run; ``existing``: (question, lang, faq_id) of keys already
    grouped. Returns one row per new key: ``faq_id`` (an existing group, exact or best fuzzy match) or
    ``group`` (a 0-based number of a new group; keys of one new group are connected by similar pairs).
    """
    new = new.select("question", "lang").unique(maintain_order=True).filter(pl.col("question") != "")
    existing = (
        existing.select("question", "lang", pl.col("faq_id").cast(pl.Int64)).unique(["question", "lang"])
        if existing is not None and existing.height
        else pl.DataFrame(schema={"question": pl.String, "lang": pl.String, "faq_id": pl.Int64})
    )
    exact = new.join(existing, on=["question", "lang"], how="left")
    open_keys = exact.filter(pl.col("faq_id").is_null()).drop("faq_id")
    if open_keys.is_empty():
        return Grouping(exact.with_columns(pl.lit(None, pl.Int64).alias("group")), 0, exact.height)
    # all keys: the open ones first (rows 0..n-1), then the existing ones
    everything = pl.concat([open_keys.with_columns(pl.lit(None, pl.Int64).alias("faq_id")), existing])
    n_open = open_keys.height
    pairs = similar_pairs(everything.select("question", "lang"), min_shared, min_chars).filter(pl.col("a") < n_open)
    ids = everything.with_row_index("b").select(pl.col("b").cast(pl.Int64), pl.col("faq_id").alias("fuzzy"))
    to_existing = (
        pairs.filter(pl.col("b") >= n_open)
        .sort("a", "score", "b", descending=[False, True, False])
        .unique("a", keep="first", maintain_order=True)
        .join(ids, on="b")
        .select(pl.col("a").alias("idx"), "fuzzy")
    )
    joined = set(to_existing["idx"].to_list())
    among_open = pairs.filter(
        (pl.col("b") < n_open) & ~pl.col("a").is_in(list(joined)) & ~pl.col("b").is_in(list(joined))
    )
    graph = coo_matrix(
        (np.ones(among_open.height), (among_open["a"].to_numpy(), among_open["b"].to_numpy())), shape=(n_open, n_open)
    )
    _, component = connected_components(graph, directed=False)
    open_rows = (
        open_keys.with_row_index("idx")
        .with_columns(pl.col("idx").cast(pl.Int64), pl.Series("component", component, dtype=pl.Int64))
        .join(to_existing, on="idx", how="left")
    )
    fresh = open_rows.filter(pl.col("fuzzy").is_null())
    numbering = fresh.select("component").unique(maintain_order=True).with_row_index("group")
    open_rows = open_rows.join(numbering.with_columns(pl.col("group").cast(pl.Int64)), on="component", how="left")
    result = pl.concat(
        [
            exact.filter(pl.col("faq_id").is_not_null()).with_columns(pl.lit(None, pl.Int64).alias("group")),
            open_rows.select(
                "question",
                "lang",
                pl.col("fuzzy").alias("faq_id"),
                pl.when(pl.col("fuzzy").is_null()).then(pl.col("group")).alias("group"),
            ),
        ]
    )
    return Grouping(result, numbering.height, exact.height - open_keys.height + len(joined))


def faq_representatives(fresh: pl.DataFrame) -> pl.DataFrame:
    """One row per new group (group, question, lang, clean, example), in group order: the group's most frequent
    key, that key's most frequent wording (``clean``) and, as ``example``, the interaction_id of the latest text
    with that key and wording.

    ``fresh``: keyed question rows of new groups (group, question, lang, clean, interaction_id, occurred_at).
    """
    key_counts = (
        fresh.group_by("group", "question", "lang")
        .agg(pl.len().alias("n"))
        .sort(["group", "n", "question"], descending=[False, True, False])
    )
    leaders = key_counts.unique("group", keep="first", maintain_order=True)
    wording = (
        fresh.join(leaders.select("group", "question"), on=["group", "question"])
        .group_by("group", "clean")
        .agg(pl.len().alias("n"), pl.col("interaction_id").sort_by("occurred_at").last().alias("example"))
        .sort(["group", "n", "clean"], descending=[False, True, False])
        .unique("group", keep="first", maintain_order=True)
    )
    return (
        leaders.join(wording.select("group", "clean", "example"), on="group")
        .sort("group")
        .select("group", "question", "lang", "clean", "example")
    )
