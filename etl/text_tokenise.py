"""Cleaning and tokenising customer texts (Simplified Chinese and English) with rjieba and the user dictionary.

Pipeline pieces, each a pure polars step:

- :func:`clean_texts` — NFKC, lower case, agent turns / greetings / signatures / PII patterns removed,
  English contractions expanded (``don't`` -> ``do not``); adds ``clean`` and ``lang``.
- :func:`tokenise` — one row per token of each *distinct* clean text (``doc``, ``pos``, ``token``);
  punctuation becomes the boundary token ``","``. Only the segmentation itself is a per-text call
  (rjieba, optionally in a pool of processes); everything after it is vectorised.
- :func:`content_terms` — the keyword view of the tokens: stop words, numbers and single Chinese characters
  dropped, English plurals folded, user-dictionary synonyms mapped to their canonical term.

User-dictionary terms are kept whole whatever their script or spacing (``X1 Pro``, ``璐米``): each is swapped
for a private-use character before segmentation and swapped back afterwards.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final

import polars as pl

from cx.errors import ValidationError

log = logging.getLogger(__name__)

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
BOUNDARY: Final = ","
#: Token separator between the segmentation call and polars (never occurs in cleaned text).
_SEP: Final = "\x1f"
#: First private-use code point used as a stand-in for user-dictionary terms.
_PUA_START: Final = 0xF0000
MAX_TERM_CHARS: Final = 100
#: Below this many distinct texts a process pool costs more than it saves.
POOL_MIN_TEXTS: Final = 60_000

_CJK: Final = r"\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}"
_CJK_RE: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# --------------------------------------------------------------------------------------------- cleaning

#: Whole lines written by the agent or the system in chat transcripts (dropped: only the customer speaks here).
_AGENT_LINE: Final = r"(?m)^[ \t]*(?:(?:客服|坐席|人工客服|agent|system)[ \t]*:|\[(?:系统|system)\])[^\n]*$"
#: Speaker labels in front of the customer's own words (the words stay).
_SPEAKER: Final = (
    r"(?m)^[ \t]*(?:访客|客户再次来电|客户来电|回访客户|客户|顾客|用户|visitor|customer|caller|repeat call|callback)"
    r"[ \t]*:[ \t]*"
)
#: A closing line (and the signature after it) at the end of an e-mail.
_CLOSING: Final = (
    r"(?s)\n[ \t]*(?:谢谢|多谢|此致敬礼|此致|祝好|thanks|thank you|many thanks|regards|best regards|kind regards|best|"
    r"cheers|sincerely)[ \t!,.~]*(?:\n.*)?$"
)
#: A greeting alone on its line.
_GREETING: Final = r"(?m)^[ \t]*(?:您好|你好|hi there|hello|hi|hey|dear[^\n]*)[ \t!,.~]*$"
#: Agents' annotations in call notes: (已解决), (resolved on call), (escalated, callback pending).
_NOTE: Final = r"\((?:已解决|已升级[^)]*|已转[^)]*|待回访[^)]*|resolved[^)]*|escalated[^)]*)\)"
_EMAIL: Final = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_URL: Final = r"(?:https?://|www\.)\S+"
_MENTION: Final = r"@[^\s@,.!?;:]+"
#: Phone numbers and long ids (order numbers, card numbers): 5+ digits, optional separators.
_LONG_NUMBER: Final = r"\+?\d(?:[ -]?\d){4,}"
_CONTRACTIONS: Final = (
    (r"\bcan't", "can not"),
    (r"\bwon't", "will not"),
    (r"\bshan't", "shall not"),
    (r"n't", " not"),
    (r"'re", " are"),
    (r"'ll", " will"),
    (r"'ve", " have"),
    (r"'d", " would"),
    (r"'m", " am"),
    (r"'s", ""),
)


def clean_text_expr(column: str = "text") -> pl.Expr:
    """The cleaning of :func:`clean_texts` as one expression (NFKC, lower case, boilerplate and PII removed)."""
    expr = pl.col(column).fill_null("").str.normalize("NFKC").str.to_lowercase()
    expr = expr.str.replace_all(r"[\u2018\u2019\u02bc`´]", "'")
    for pattern in (_AGENT_LINE, _SPEAKER, _CLOSING, _GREETING, _NOTE, _EMAIL, _URL, _MENTION, _LONG_NUMBER):
        expr = expr.str.replace_all(pattern, " ")
    for pattern, replacement in _CONTRACTIONS:
        expr = expr.str.replace_all(pattern, replacement)
    return expr.str.replace_all("#", " ").str.replace_all(r"\s+", " ").str.strip_chars()


def lang_expr(column: str = "clean") -> pl.Expr:
    """``zh`` when the text has Chinese characters (mixed texts count as Chinese), ``en`` for Latin letters."""
    return (
        pl.when(pl.col(column).str.contains(f"[{_CJK}]"))
        .then(pl.lit("zh"))
        .when(pl.col(column).str.contains("[a-z]"))
        .then(pl.lit("en"))
        .otherwise(pl.lit(""))
    )


def clean_texts(lf: pl.LazyFrame, column: str = "text") -> pl.LazyFrame:
    """Add ``clean`` (the customer's words, normalised, without PII patterns) and ``lang`` (zh | en | '').

    >>> clean_texts(pl.LazyFrame({"text": ["访客：Ｘ1 能退货吗？\\n客服：可以的"]})).collect()["clean"].to_list()
    ['x1 能退货吗?']
    """
    return lf.with_columns(clean_text_expr(column).alias("clean")).with_columns(lang_expr("clean").alias("lang"))


# --------------------------------------------------------------------------------------------- user dictionary


@dataclass(frozen=True)
class DictionaryTerm:
    """A user-dictionary entry: kept whole by the tokenizer, optionally mapped to a canonical term and a topic.

    ``category`` product and brand terms are left out of FAQ question keys ("X1 的保修期多久" asks the same
    as "保修期多久"); they still count as keywords.
    """

    term: str
    canonical: str | None = None
    topic: str | None = None
    category: str = "term"


def normalise_term(value: str) -> str:
    """A term as the tokenizer sees it: NFKC, lower case, contractions expanded, single spaces."""
    text = unicodedata.normalize("NFKC", value).lower().replace("\u2019", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def validate_term(value: str) -> str:
    """The normalised term, or ValidationError saying what is wrong with it."""
    term = normalise_term(value or "")
    problems = []
    if not term:
        problems.append("the term is empty")
    elif len(term) > MAX_TERM_CHARS:
        problems.append(f"the term is longer than {MAX_TERM_CHARS} characters")
    elif not re.search(r"\w", term):
        problems.append(f"{value!r} has no letters or digits")
    elif _SEP in term or BOUNDARY in term or "|" in term:
        problems.append(f"{value!r} contains a comma or '|'; enter one term per row")
    if problems:
        raise ValidationError("The dictionary term is not valid", problems)
    return term


# --------------------------------------------------------------------------------------------- segmentation


def _placeholder(index: int) -> str:
    return chr(_PUA_START + index)


def _latin(char: str) -> bool:
    return "a" <= char <= "z" or "0" <= char <= "9"


def _trie(terms: Sequence[str]) -> str:
    """One regex for ``terms`` built as a trie (fast in Python's ``re``); longer terms are tried first and a
    term ending in a Latin letter or digit must not be followed by one (``pro`` never matches in ``product``)."""
    root: dict[str, Any] = {}
    for term in terms:
        node = root
        for char in term:
            node = node.setdefault(char, {})
        node[""] = True

    def render(node: dict[str, Any], last: str) -> str:
        branches = [re.escape(char) + render(child, char) for char, child in sorted(node.items()) if char != ""]
        end = "(?![a-z0-9])" if _latin(last) else ""
        if "" in node:
            if not branches:
                return end
            return f"(?:{'|'.join(branches)}|{end})" if end else f"(?:{'|'.join(branches)})?"
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"

    return render(root, "")


def _term_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for all user terms; Latin edges must sit on word boundaries (``pro`` is not in ``product``)."""
    if not terms:
        return None
    latin = [t for t in terms if _latin(t[0])]
    other = [t for t in terms if not _latin(t[0])]
    parts = ([f"(?<![a-z0-9]){_trie(latin)}"] if latin else []) + ([_trie(other)] if other else [])
    return re.compile("|".join(parts))


@lru_cache(maxsize=4)
def _segmenter(terms: tuple[str, ...], hmm: bool) -> dict[str, object]:
    """rjieba plus the compiled user terms: everything :func:`_cut_with` needs (kept for the same dictionary)."""
    import rjieba

    return {
        "jieba": rjieba.Jieba(),
        "pattern": _term_pattern(terms),
        "lookup": {term: _placeholder(i) for i, term in enumerate(terms)},
        "hmm": hmm,
    }


def _cut_with(state: dict[str, object], texts: list[str], flags: list[bool] | None = None) -> list[str]:
    """Segment ``texts``; each result is the tokens joined by the separator. ``flags[i]`` False: text ``i``
    holds no user term (checked beforehand, vectorised), so the term substitution is skipped."""
    cut = state["jieba"].cut  # type: ignore[attr-defined]
    pattern = state["pattern"]
    lookup: dict[str, str] = state["lookup"]  # type: ignore[assignment]
    hmm = bool(state["hmm"])
    join = _SEP.join
    if pattern is None:
        return [join(cut(text, hmm)) for text in texts]

    def swap(match: re.Match[str]) -> str:
        return " " + lookup.get(match.group(0), match.group(0)) + " "

    sub = pattern.sub  # type: ignore[attr-defined]
    if flags is None:
        return [join(cut(sub(swap, text), hmm)) for text in texts]
    return [join(cut(sub(swap, text) if flag else text, hmm)) for text, flag in zip(texts, flags, strict=True)]


_pool_state: dict[str, object] = {}


def _init_worker(terms: tuple[str, ...], hmm: bool) -> None:
    """Process-pool initialiser: one segmenter per worker process."""
    _pool_state.update(_segmenter(terms, hmm))


def _cut_in_worker(job: tuple[list[str], list[bool] | None]) -> list[str]:
    return _cut_with(_pool_state, *job)


class Tokenizer:
    """rjieba with the user dictionary; ``workers`` > 1 segments large batches in a pool of processes."""

    def __init__(self, terms: Iterable[DictionaryTerm] = (), *, hmm: bool = True, workers: int = 1) -> None:
        unique: dict[str, DictionaryTerm] = {}
        for entry in terms:
            term = normalise_term(entry.term)
            if term:
                canonical = normalise_term(entry.canonical) if entry.canonical else None
                unique[term] = DictionaryTerm(term, canonical or None, entry.topic or None, entry.category)
        self.entries: tuple[DictionaryTerm, ...] = tuple(unique.values())
        self.terms: tuple[str, ...] = tuple(unique)
        self.hmm = hmm
        self.workers = max(1, workers)
        self._state = _segmenter(self.terms, hmm)

    @property
    def placeholders(self) -> dict[str, str]:
        """Private-use stand-in -> the term it stands for (canonical form when one is set)."""
        return {_placeholder(i): (e.canonical or e.term) for i, e in enumerate(self.entries)}

    @property
    def names(self) -> list[str]:
        """The (canonical) terms of product and brand entries."""
        return sorted({e.canonical or e.term for e in self.entries if e.category in ("product", "brand")})

    @property
    def synonyms(self) -> dict[str, str]:
        """Dictionary term -> canonical term, for entries that name one."""
        return {e.term: e.canonical for e in self.entries if e.canonical}

    def cut_series(self, texts: pl.Series) -> pl.Series:
        """Separator-joined tokens of every text (run once per distinct text)."""
        values = texts.to_list()
        flags = texts.str.contains_any(list(self.terms)).fill_null(False).to_list() if self.terms else None
        if self.workers > 1 and len(values) >= POOL_MIN_TEXTS:
            size = -(-len(values) // (self.workers * 4))
            chunks = [
                (values[i : i + size], flags[i : i + size] if flags is not None else None)
                for i in range(0, len(values), size)
            ]
            try:
                with ProcessPoolExecutor(
                    self.workers,
                    mp_context=get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(self.terms, self.hmm),
                ) as pool:
                    out = [joined for part in pool.map(_cut_in_worker, chunks) for joined in part]
            except BrokenProcessPool:  # a worker died (killed, out of memory): finish here rather than lose the batch
                log.warning("a tokenising process died; tokenising the %d texts in this process", len(values))
                out = _cut_with(self._state, values, flags)
        else:
            out = _cut_with(self._state, values, flags)
        return pl.Series(texts.name, out, dtype=pl.String)

    def cut(self, text: str) -> list[str]:
        """Tokens of one raw text as the analysis sees them (cleaned first; for tests and the dictionary preview)."""
        docs = clean_texts(pl.LazyFrame({"text": [text]}, schema={"text": pl.String})).select(
            pl.lit(0, pl.UInt32).alias("doc"), "clean"
        )
        return tokenise(docs, self).collect()["token"].to_list()


def tokenise(docs: pl.LazyFrame, tokenizer: Tokenizer) -> pl.LazyFrame:
    """One row per token, sorted by doc and pos: ``doc``, ``pos`` (0-based, counting boundaries), ``token``,
    ``end`` (a sentence ends with this token) and ``qmark`` (it holds a question mark).

    ``docs`` has a unique ``doc`` id and the ``clean`` text. Whitespace disappears, punctuation becomes the
    boundary token ``","``, user-dictionary stand-ins turn back into their (canonical) terms.
    """
    placeholders = tokenizer.placeholders
    token = pl.col("token")
    long = (
        docs.select(
            "doc",
            pl.col("clean").map_batches(tokenizer.cut_series, return_dtype=pl.String).str.split(_SEP).alias("token"),
        )
        .explode("token")
        .with_columns(token.str.strip_chars())
        .filter(token != "")
        .with_columns(
            token.str.contains(r"[.!?;。…]$").alias("end"),
            token.str.contains(r"\?").alias("qmark"),
        )
    )
    if placeholders:
        long = long.with_columns(token.replace(placeholders))
        is_user = token.is_in(list(set(placeholders.values())))
    else:
        is_user = pl.lit(False)
    long = long.with_columns(
        pl.when(is_user).then(token).otherwise(token.str.strip_chars(".-_%#&+'")).alias("token")
    ).with_columns(
        pl.when((token == "") | ~token.str.contains(r"[\p{L}\p{N}]"))
        .then(pl.lit(BOUNDARY))
        .otherwise(token)
        .alias("token")
    )
    # number the tokens within each text (rows are in doc order; no group-by needed)
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    first = pl.when(pl.col("doc") != pl.col("doc").shift(1)).then(index).forward_fill().fill_null(0)
    return long.with_columns((index - first).cast(pl.Int32).alias("pos")).select("doc", "pos", "token", "end", "qmark")


def question_sentence(tokens: pl.LazyFrame) -> pl.LazyFrame:
    """The tokens of each text's first question (the first sentence holding a question mark), or of the whole
    text when it has none: the part of an inquiry that says what is asked."""
    end = pl.col("end").cast(pl.Int32)
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    before = end.cum_sum() - end  # sentence ends before this token, counted over the whole frame
    first = pl.when(pl.col("doc") != pl.col("doc").shift(1)).then(before).forward_fill().fill_null(0)
    numbered = tokens.with_columns((before - first).alias("sentence"), index.alias("_row"))
    asked = numbered.filter(pl.col("qmark")).group_by("doc").agg(pl.col("sentence").min().alias("asked"))
    return (
        numbered.join(asked, on="doc", how="left")
        .filter(pl.col("asked").is_null() | (pl.col("sentence") == pl.col("asked")))
        .sort("_row")
        .drop("sentence", "asked", "_row")
    )


# --------------------------------------------------------------------------------------------- keyword view


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """Chinese and English stop words (etl/data/voc_stopwords_*.txt), normalised like tokens."""
    words: set[str] = set()
    for name in ("voc_stopwords_zh.txt", "voc_stopwords_en.txt"):
        for line in (DATA_DIR / name).read_text("utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                words.add(normalise_term(line))
    return frozenset(words)


def english_singular(expr: pl.Expr) -> pl.Expr:
    """Fold regular English plurals: ``parcels`` -> ``parcel``, ``deliveries`` -> ``delivery``, ``crashes`` ->
    ``crash``, ``addresses`` -> ``address`` (``address``, ``status``, ``this`` stay)."""
    return (
        pl.when(expr.str.contains(r"^[a-z]{3,}ies$"))
        .then(expr.str.replace(r"ies$", "y"))
        .when(expr.str.contains(r"^[a-z]{2,}(?:sh|ch|x|ss|z)es$"))
        .then(expr.str.replace(r"es$", ""))
        .when(expr.str.contains(r"^[a-z]{3,}[^siu']s$"))
        .then(expr.str.replace(r"s$", ""))
        .otherwise(expr)
    )


def content_terms(tokens: pl.LazyFrame, tokenizer: Tokenizer, extra_stop_words: Iterable[str] = ()) -> pl.LazyFrame:
    """Distinct keyword terms per text (``doc``, ``term``) from the token rows of :func:`tokenise`.

    Dropped: boundaries, stop words, numbers (and tokens with 4+ digits), single Chinese characters and
    single Latin letters, unless the token is a user-dictionary term. Synonyms map to their canonical term.
    """
    user_terms = list({e.canonical or e.term for e in tokenizer.entries})
    stops = list(stop_words() | {normalise_term(w) for w in extra_stop_words})
    token = pl.col("token")
    is_user = token.is_in(user_terms) if user_terms else pl.lit(False)
    keep = (token != BOUNDARY) & (
        is_user
        | (
            ~token.is_in(stops)
            & ~token.str.contains(r"^[\d.]+$")
            & (token.str.count_matches(r"\d") < 4)
            & ~token.str.contains(f"^[{_CJK}]$")
            & (token.str.len_chars() >= 2)
            & (token.str.len_chars() <= MAX_TERM_CHARS)
        )
    )
    terms = tokens.filter(keep).select(
        "doc",
        pl.when(is_user).then(token).otherwise(english_singular(token)).alias("term"),
    )
    synonyms = tokenizer.synonyms
    if synonyms:
        terms = terms.with_columns(pl.col("term").replace(synonyms))
    return terms.unique(["doc", "term"], maintain_order=True)


def has_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text))
