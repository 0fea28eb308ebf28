"""Transparent baseline classifier (inquiry / complaint / suggestion / praise / other), sentiment and topics.

Everything is data plus a few documented rules, applied to the token rows of :mod:`etl.text_tokenise`
with polars joins (no Python loop per text):

1. **Cues** (etl/data/voc_lexicon.csv): words and phrases in both languages, each pointing to a class with a
   weight and carrying a polarity. A cue is matched on 1..4 consecutive tokens (Chinese tokens joined without
   spaces, English with one space, so a cue matches however rjieba split it); a longer match hides the
   shorter ones inside it (``不满意`` over ``满意``).
2. **Negation**: a negator up to 2 tokens before a cue (3 in English; never across punctuation) turns a
   praise cue into a complaint cue and vice versa (weight x 0.8) and flips its polarity (x -0.8);
   an intensifier right before a cue multiplies weight by 1.5 and polarity by 1.3.
3. **Text rules**: a question mark adds 1.2 to *inquiry*; an English text opening with a question word or
   auxiliary (how, what, can, is, ...) adds 0.9; ``??``/``?!`` adds 0.6 to *complaint*; an English text
   opening with an imperative (add, offer, allow, make, let, ...) adds 0.8 to *suggestion*. Questions that
   complain are complaints: with complaint >= 1.5 the inquiry score is halved; with suggestion >= 1.2 it is
   multiplied by 0.6 ("Could you add a dark mode?").
4. **Decision**: *other* starts at 0.9; the label is the highest score (ties: complaint, suggestion, inquiry,
   praise, other); confidence is the softmax probability of that label (temperature 0.75); sentiment is
   ``tanh(0.7 x sum of polarities)`` in -1..1.

:func:`explain` lists the cues behind one text, for people who ask "why is this a complaint?".
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import polars as pl

from cx.errors import ValidationError
from etl.text_tokenise import (
    BOUNDARY,
    DATA_DIR,
    DictionaryTerm,
    Tokenizer,
    clean_texts,
    has_cjk,
    normalise_term,
    tokenise,
)

LABELS: Final = ("inquiry", "complaint", "suggestion", "praise", "other")
#: Tie-break order of the decision (first wins among equal scores).
PRIORITY: Final = ("complaint", "suggestion", "inquiry", "praise", "other")
CUES: Final = (*LABELS, "negator", "intensifier")
MAX_NGRAM: Final = 4
OTHER_BASE: Final = 0.9
QUESTION_MARK: Final = 1.2
QUESTION_OPENING: Final = 0.9
RHETORICAL: Final = 0.6
TEMPERATURE: Final = 0.75
SENTIMENT_SCALE: Final = 0.7
NEGATED_WEIGHT: Final = 0.8
NEGATED_POLARITY: Final = -0.8
INTENSIFIED_WEIGHT: Final = 1.5
INTENSIFIED_POLARITY: Final = 1.3
_EN_OPENING: Final = (
    r"^(?:how|what|when|where|which|who|whom|whose|why|is|are|am|was|were|do|does|did|can|could|will|would|"
    r"should|may|have|has|any)\b"
)
#: An English text opening with a verb in the imperative (optionally after "please"/"maybe") asks for a change.
_EN_IMPERATIVE: Final = (
    r"^(?:please |maybe |just )?(?:add|offer|allow|make|let|provide|include|consider|bring|give|introduce|enable|"
    r"extend|improve|remove|reduce|simplify)\b"
)
IMPERATIVE: Final = 0.8
_OPPOSITE: Final = {"praise": "complaint", "complaint": "praise"}
#: The end of the token part before a cue found inside a longer Chinese token that negates it (不满意, 没耐心).
_NEGATED_PREFIX: Final = r"(?:不|没|没有|未|别|无|不太|不够|不是很|不怎么)$"


def match_key(term: str) -> str:
    """How a lexicon term is matched: normalised; Chinese without spaces, other text with single spaces."""
    text = normalise_term(term)
    return text.replace(" ", "") if has_cjk(text) else text


@dataclass(frozen=True)
class Lexicon:
    """The cue lexicon: ``cues`` (key, lang, cue, weight, polarity), negators and intensifiers per language."""

    cues: pl.DataFrame
    negators: frozenset[str]
    intensifiers: frozenset[str]

    @property
    def keys(self) -> list[str]:
        return self.cues["key"].to_list()


def _rows(text: str, source: str) -> list[tuple[int, dict[str, str]]]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if reader.fieldnames is None:
        raise ValidationError(f"{source} is empty")
    return [(number, row) for number, row in enumerate(reader, start=2)]


def parse_lexicon(text: str, source: str = "lexicon") -> Lexicon:
    """Validate and compile a cue lexicon in CSV form; every problem is reported at once."""
    problems: list[str] = []
    cues: dict[str, dict[str, object]] = {}
    negators: set[str] = set()
    intensifiers: set[str] = set()
    for number, row in _rows(text, source):
        where = f"row {number}"
        term = (row.get("term") or "").strip()
        lang = (row.get("lang") or "").strip()
        cue = (row.get("cue") or "").strip()
        if not term:
            problems.append(f"{where}: the term is empty")
            continue
        if lang not in ("zh", "en"):
            problems.append(f"{where} ({term}): lang must be zh or en, not {lang!r}")
        if cue not in CUES:
            problems.append(f"{where} ({term}): cue must be one of {', '.join(CUES)}, not {cue!r}")
            continue
        try:
            weight = float(row.get("weight") or 0)
            polarity = float(row.get("polarity") or 0)
        except ValueError:
            problems.append(f"{where} ({term}): weight and polarity must be numbers")
            continue
        key = match_key(term)
        if cue == "negator":
            negators.add(key)
            continue
        if cue == "intensifier":
            intensifiers.add(key)
            continue
        if not 0 < weight <= 5:
            problems.append(f"{where} ({term}): weight must be above 0 and at most 5, not {weight}")
        if not -1 <= polarity <= 1:
            problems.append(f"{where} ({term}): polarity must be between -1 and 1, not {polarity}")
        if len(key.split(" ")) > MAX_NGRAM:
            problems.append(f"{where} ({term}): a cue may have at most {MAX_NGRAM} words")
        if key in cues:
            problems.append(f"{where} ({term}): the term is listed twice (also as {cues[key]['cue']})")
        cues[key] = {"key": key, "lang": lang, "cue": cue, "weight": weight, "polarity": polarity}
    if problems:
        raise ValidationError(f"The lexicon {source} is not valid", problems)
    frame = pl.DataFrame(
        list(cues.values()),
        schema={"key": pl.String, "lang": pl.String, "cue": pl.String, "weight": pl.Float64, "polarity": pl.Float64},
        orient="row",
    )
    return Lexicon(frame, frozenset(negators), frozenset(intensifiers))


def parse_topics(text: str, source: str = "topics") -> pl.DataFrame:
    """Validate a topic lexicon in CSV form (topic, term) into (key, topic) rows."""
    problems: list[str] = []
    rows: dict[tuple[str, str], None] = {}
    for number, row in _rows(text, source):
        topic = (row.get("topic") or "").strip()
        term = (row.get("term") or "").strip()
        if not topic or not topic.replace("_", "").isalnum() or not topic.isascii():
            problems.append(f"row {number}: the topic must be a key of letters, digits and '_', not {topic!r}")
        if not term:
            problems.append(f"row {number}: the term is empty")
        if topic and term:
            rows[(match_key(term), topic)] = None
    if problems:
        raise ValidationError(f"The topic list {source} is not valid", problems)
    return pl.DataFrame(list(rows), schema={"key": pl.String, "topic": pl.String}, orient="row")


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    path = DATA_DIR / "voc_lexicon.csv"
    return parse_lexicon(path.read_text("utf-8"), str(Path("etl/data") / path.name))


@lru_cache(maxsize=1)
def default_topics() -> pl.DataFrame:
    path = DATA_DIR / "voc_topics.csv"
    return parse_topics(path.read_text("utf-8"), str(Path("etl/data") / path.name))


def topic_keys() -> list[str]:
    """The built-in topic keys, in file order."""
    return list(dict.fromkeys(default_topics()["topic"].to_list()))


def topics_with_dictionary(topics: pl.DataFrame, entries: Iterable[DictionaryTerm]) -> pl.DataFrame:
    """The topic lexicon plus the user-dictionary terms that name a topic."""
    extra = [(match_key(e.canonical or e.term), e.topic) for e in entries if e.topic]
    if not extra:
        return topics
    return pl.concat([topics, pl.DataFrame(extra, schema=topics.schema, orient="row")]).unique(maintain_order=True)


# --------------------------------------------------------------------------------------------- matching


def match_terms(tokens: pl.LazyFrame, keys: Sequence[str], max_n: int = MAX_NGRAM) -> pl.LazyFrame:
    """Where ``keys`` occur in the token rows: ``doc``, ``start`` (token position), ``n`` (tokens), ``key``, ``prefix``.

    An n-gram matches a key when its tokens joined by one space, or joined without spaces, equal it; n-grams
    never span texts or punctuation. A Chinese key may also sit inside one longer Chinese token (rjieba keeps
    ``非常感谢`` whole): such a match has ``n`` = 1 and ``prefix`` = the part of the token before the key
    (empty for whole-token matches). ``tokens`` must be sorted by doc and pos (as :func:`tokenise` returns it).
    """
    unique_keys = sorted(set(keys))
    key_list = pl.Series("keys", unique_keys, dtype=pl.String).implode()
    token = pl.col("token")
    base = tokens.select("doc", "pos", "token")
    parts = [
        base.filter(token.is_in(key_list)).select(
            "doc",
            pl.col("pos").alias("start"),
            pl.lit(1, pl.Int32).alias("n"),
            token.alias("key"),
            pl.lit("").alias("prefix"),
        )
    ]
    # a longer n-gram can only start with a token that begins some key: keep those rows, then look ahead
    heads = sorted(
        {k[:i] for k in unique_keys for i in range(1, len(k) + 1) if has_cjk(k)}
        | {k.split(" ")[0] for k in unique_keys}
    )
    ahead = base.with_columns(
        *(
            pl.when(pl.col("doc").shift(-k) == pl.col("doc")).then(token.shift(-k)).alias(f"t{k}")
            for k in range(1, max_n)
        )
    ).filter(token.is_in(pl.Series(heads, dtype=pl.String).implode()))
    for n in range(2, max_n + 1):
        following = [token, *(pl.col(f"t{k}") for k in range(1, n))]
        grams = ahead.with_columns(
            pl.concat_str(following, separator=" ").alias("spaced"),
            pl.concat_str(following).alias("joined"),
            pl.any_horizontal(*(c == BOUNDARY for c in following)).fill_null(True).alias("crosses"),
        )
        parts.append(
            grams.filter(
                ~pl.col("crosses") & (pl.col("spaced").is_in(key_list) | pl.col("joined").is_in(key_list))
            ).select(
                "doc",
                pl.col("pos").alias("start"),
                pl.lit(n, pl.Int32).alias("n"),
                pl.when(pl.col("spaced").is_in(key_list)).then("spaced").otherwise("joined").alias("key"),
                pl.lit("").alias("prefix"),
            )
        )
    cjk_keys = sorted((k for k in unique_keys if has_cjk(k) and " " not in k), key=lambda k: (-len(k), k))
    if cjk_keys:
        vocabulary = (
            base.select("token")
            .unique()
            .filter((token.str.len_chars() >= 3) & token.str.contains(r"^[\x{3400}-\x{9FFF}]") & ~token.is_in(key_list))
            .with_columns(token.str.extract_many(cjk_keys, leftmost=True).alias("key"))
            .explode("key")
            .drop_nulls("key")
            .with_columns(token.str.split(pl.col("key")).list.first().alias("prefix"))
        )
        parts.append(
            base.join(vocabulary, on="token").select(
                "doc", pl.col("pos").alias("start"), pl.lit(1, pl.Int32).alias("n"), "key", "prefix"
            )
        )
    return pl.concat(parts)


def drop_covered(matches: pl.LazyFrame) -> pl.LazyFrame:
    """Remove matches that lie inside a longer match of the same text (the longer one wins)."""
    indexed = matches.with_row_index("match_id")
    longer = indexed.filter(pl.col("n") > 1).select("doc", pl.col("start").alias("l_start"), pl.col("n").alias("l_n"))
    covered = (
        indexed.join(longer, on="doc")
        .filter(
            (pl.col("l_n") > pl.col("n"))
            & (pl.col("l_start") <= pl.col("start"))
            & (pl.col("start") + pl.col("n") <= pl.col("l_start") + pl.col("l_n"))
        )
        .select("match_id")
        .unique()
    )
    return indexed.join(covered, on="match_id", how="anti").drop("match_id")


def token_context(tokens: pl.LazyFrame, lexicon: Lexicon) -> pl.LazyFrame:
    """Per token position: ``negated_zh``/``negated_en`` (a negator shortly before) and ``intensified``."""
    token = pl.col("token")
    negators = pl.Series(sorted(lexicon.negators), dtype=pl.String).implode()
    intensifiers = pl.Series(sorted(lexicon.intensifiers), dtype=pl.String).implode()

    def before(k: int) -> pl.Expr:
        return pl.when(pl.col("doc").shift(k) == pl.col("doc")).then(token.shift(k)).otherwise(pl.lit(BOUNDARY))

    neg1, neg2, neg3 = (before(k).is_in(negators) for k in (1, 2, 3))
    open1 = before(1) != BOUNDARY
    open2 = open1 & (before(2) != BOUNDARY)
    negated_zh = neg1 | (neg2 & open1)
    return tokens.select(
        "doc",
        pl.col("pos").alias("start"),
        negated_zh.alias("negated_zh"),
        (negated_zh | (neg3 & open2)).alias("negated_en"),
        before(1).is_in(intensifiers).alias("intensified"),
    )


def cue_hits(tokens: pl.LazyFrame, lexicon: Lexicon) -> pl.LazyFrame:
    """Every cue found: doc, start, key, cue, class it counts for, weight and polarity after negation."""
    hits = drop_covered(match_terms(tokens, lexicon.keys)).join(lexicon.cues.lazy(), on="key")
    hits = hits.join(token_context(tokens, lexicon), on=["doc", "start"], how="left")
    negated = pl.when(pl.col("lang") == "en").then(pl.col("negated_en")).otherwise(pl.col("negated_zh")).fill_null(
        False
    ) | pl.col("prefix").str.contains(_NEGATED_PREFIX)
    flips = negated & pl.col("cue").is_in(list(_OPPOSITE))
    intensified = pl.col("intensified").fill_null(False)
    return hits.select(
        "doc",
        "start",
        "key",
        "cue",
        negated.alias("negated"),
        pl.when(flips).then(pl.col("cue").replace(_OPPOSITE)).otherwise(pl.col("cue")).alias("counts_for"),
        (
            pl.col("weight")
            * pl.when(flips).then(NEGATED_WEIGHT).otherwise(1.0)
            * pl.when(intensified).then(INTENSIFIED_WEIGHT).otherwise(1.0)
        ).alias("weight"),
        (
            pl.col("polarity")
            * pl.when(negated).then(NEGATED_POLARITY).otherwise(1.0)
            * pl.when(intensified).then(INTENSIFIED_POLARITY).otherwise(1.0)
        ).alias("polarity"),
    )


def classify(docs: pl.LazyFrame, tokens: pl.LazyFrame, lexicon: Lexicon) -> pl.LazyFrame:
    """``doc``, ``label``, ``confidence`` (0..1), ``sentiment`` (-1..1) for every doc of ``docs`` (doc, clean)."""
    hits = cue_hits(tokens, lexicon)
    sums = hits.group_by("doc").agg(
        *(pl.col("weight").filter(pl.col("counts_for") == label).sum().alias(f"s_{label}") for label in LABELS),
        pl.col("polarity").sum().alias("polarity"),
    )
    clean = pl.col("clean")
    scored = (
        docs.select("doc", "clean")
        .join(sums, on="doc", how="left")
        .with_columns(pl.col(f"s_{label}").fill_null(0.0) for label in LABELS)
        .with_columns(pl.col("polarity").fill_null(0.0))
        .with_columns(
            (
                pl.col("s_inquiry")
                + pl.when(clean.str.contains(r"\?")).then(QUESTION_MARK).otherwise(0.0)
                + pl.when(clean.str.contains(_EN_OPENING)).then(QUESTION_OPENING).otherwise(0.0)
            ).alias("s_inquiry"),
            (pl.col("s_complaint") + pl.when(clean.str.contains(r"\?\s*[?!]|!\s*\?")).then(RHETORICAL).otherwise(0.0)),
            (pl.col("s_suggestion") + pl.when(clean.str.contains(_EN_IMPERATIVE)).then(IMPERATIVE).otherwise(0.0)),
            (pl.col("s_other") + OTHER_BASE),
        )
        .with_columns(
            (
                pl.col("s_inquiry")
                * pl.when(pl.col("s_complaint") >= 1.5).then(0.5).otherwise(1.0)
                * pl.when(pl.col("s_suggestion") >= 1.2).then(0.6).otherwise(1.0)
            ).alias("s_inquiry")
        )
    )
    ordered = [pl.col(f"s_{label}") for label in PRIORITY]
    best = pl.concat_list(ordered).list.arg_max()
    exp_sum = pl.sum_horizontal([(c / TEMPERATURE).exp() for c in ordered])
    top = pl.max_horizontal(ordered)
    return scored.select(
        "doc",
        best.replace_strict(list(range(len(PRIORITY))), list(PRIORITY), return_dtype=pl.String).alias("label"),
        ((top / TEMPERATURE).exp() / exp_sum).round(3).alias("confidence"),
        (pl.col("polarity") * SENTIMENT_SCALE).tanh().round(3).alias("sentiment"),
        *(pl.col(f"s_{label}").round(3) for label in LABELS),
    )


def tag_topics(tokens: pl.LazyFrame, topics: pl.DataFrame) -> pl.LazyFrame:
    """Distinct (doc, topic) for every topic term found in a text."""
    return (
        match_terms(tokens, topics["key"].to_list())
        .join(topics.lazy(), on="key")
        .select("doc", "topic")
        .unique(maintain_order=True)
    )


def softmax_confidence(scores: dict[str, float]) -> float:
    """The confidence of the best label for given scores (the formula of :func:`classify`, for documentation)."""
    top = max(scores.values())
    return math.exp(top / TEMPERATURE) / sum(math.exp(v / TEMPERATURE) for v in scores.values())


def explain(text: str, tokenizer: Tokenizer, lexicon: Lexicon | None = None) -> pl.DataFrame:
    """The cues found in one text: key, cue, negated, counts_for, weight, polarity (in text order)."""
    lexicon = lexicon or default_lexicon()
    docs = clean_texts(pl.LazyFrame({"text": [text]})).select(pl.lit(0, pl.UInt32).alias("doc"), "clean")
    tokens = tokenise(docs, tokenizer)
    return cue_hits(tokens, lexicon).sort("start").drop("doc", "start").collect()
