"""Voice-of-the-customer throughput: N short customer texts cleaned, tokenised, classified, tagged, grouped.

    python bench/text_bench.py                      # 1,000,000 texts, 2 tokenising processes
    python bench/text_bench.py --texts 200000 --workers 1
    python bench/text_bench.py --texts 100000 --store   # also write them into a fresh SQLite store

The texts come from the demo generator's templates (etl.demo) with its slot values (12-digit order numbers,
products, cities, amounts), framed the way channels deliver them: chat transcripts with agent replies, e-mails
with greeting and signature, call notes with prefixes, plain app/web feedback. Prints one line per stage and
the total; the target is 1,000,000 texts in at most 60 s on 2 cores (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cx.voc import keyword_facts
from etl import demo
from etl import demo_texts as tx
from etl.faq import group_questions
from etl.text import TextResources, analyse_frame, demo_dictionary, pack_terms_expr


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (the tokenising pool)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def make_texts(n: int, seed: int = 11, *, distinct: bool = False) -> pl.DataFrame:
    """``n`` interactions with demo-like texts (interaction_id, occurred_at, channel, touchpoint, text).

    ``distinct``: each text is two template sentences of the same language joined, so nearly every text is
    different after cleaning (the hard case for deduplication).
    """
    rng = np.random.default_rng(seed)
    tp = rng.integers(0, len(tx.TOUCHPOINTS), n)
    kind = rng.choice(4, n, p=[0.5, 0.3, 0.1, 0.1])
    lang = (rng.random(n) < 0.3).astype(np.int64)
    texts = demo._texts(rng, tp, kind, lang)["text"]
    if distinct:
        second = demo._texts(rng, rng.integers(0, len(tx.TOUCHPOINTS), n), rng.choice(4, n), lang)["text"]
        texts = texts + pl.Series(np.where(lang == 0, "。另外，", ". Also, ")) + second
    frame_kind = rng.choice(4, n, p=[0.3, 0.2, 0.2, 0.3])
    zh = lang == 0
    prefix = np.where(
        frame_kind == 0,
        np.where(zh, "访客：", "Visitor: "),
        np.where(
            frame_kind == 1,
            np.where(zh, "您好，\n", "Hi,\n\n"),
            np.where(frame_kind == 2, np.where(zh, "客户来电：", "Caller: "), ""),
        ),
    )
    suffix = np.where(
        frame_kind == 0,
        np.where(zh, "\n客服：已为您处理好了，还有其他问题吗？", "\nAgent: Done on our side, anything else?"),
        np.where(frame_kind == 1, np.where(zh, "\n谢谢！\n王伟", "\n\nThanks,\nEmily Chen"), ""),
    )
    start = int(datetime(2025, 10, 1, tzinfo=UTC).timestamp())
    seconds = np.sort(rng.integers(0, 400 * 86400, n)) + start
    return pl.DataFrame(
        {
            "interaction_id": [f"bench:{i}" for i in range(n)],
            "occurred_at": pl.Series(seconds * 1_000_000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "channel": pl.Series(np.array(["chat", "email", "phone", "app"])[frame_kind]),
            "stage": pl.Series([""] * n, dtype=pl.String),
            "touchpoint": pl.Series(np.array(tx.TOUCHPOINTS)[tp]),
            "text": pl.Series(prefix) + texts + pl.Series(suffix),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--distinct", action="store_true", help="two sentences per text: nearly all texts differ")
    parser.add_argument("--store", action="store_true", help="also store the results in a fresh SQLite file")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    t0 = time.perf_counter()
    rows = make_texts(args.texts, distinct=args.distinct)
    print(f"generate {args.texts:,} texts: {time.perf_counter() - t0:.1f} s (not counted)")

    started = time.perf_counter()
    cpu_started = _cpu()
    resources = TextResources.default(demo_dictionary(), workers=args.workers)
    lap = time.perf_counter()
    analysed = analyse_frame(rows.lazy().select("interaction_id", "text"), resources).collect()
    distinct = analysed["clean"].n_unique()
    print(f"clean + tokenise + classify + topics: {time.perf_counter() - lap:.1f} s ({distinct:,} distinct texts)")
    lap = time.perf_counter()
    grouping = group_questions(analysed.filter(pl.col("question").is_not_null()).select("question", "lang"))
    print(f"FAQ grouping: {time.perf_counter() - lap:.1f} s ({grouping.new_groups:,} groups)")
    lap = time.perf_counter()
    per_text = rows.select("interaction_id", "occurred_at", "channel", "stage", "touchpoint").join(
        analysed.select(
            "interaction_id",
            "label",
            "sentiment",
            pack_terms_expr("terms").alias("terms"),
            pack_terms_expr("topics").alias("topics"),
        ),
        on="interaction_id",
    )
    facts = keyword_facts(per_text.lazy(), "Asia/Shanghai").collect()
    print(f"keyword facts: {time.perf_counter() - lap:.1f} s ({facts.height:,} rows)")
    total = time.perf_counter() - started
    cpu = _cpu() - cpu_started
    labels = dict(analysed["label"].value_counts().sort("label").iter_rows())
    print(
        f"TOTAL {args.texts:,} texts processed in {total:.1f} s wall, {cpu:.1f} s CPU (all threads and worker "
        f"processes; load average now {os.getloadavg()[0]:.1f}); labels {labels}"
    )

    if args.store:
        from cx.db import make_engine, migrate, transaction
        from cx.models import Interaction
        from etl.text import analyse_texts

        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            migrate(engine)
            with transaction(engine) as session:
                records = rows.with_columns(
                    pl.col("interaction_id").alias("record_id"), pl.lit("bench").alias("source")
                ).to_dicts()
                for start in range(0, len(records), 50_000):
                    session.execute(Interaction.__table__.insert(), records[start : start + 50_000])
            lap = time.perf_counter()
            with transaction(engine) as session:
                result = analyse_texts(
                    session, rows.with_columns(pl.lit(None, pl.String).alias("kind")), resources=resources
                )
            print(
                f"analyse_texts into SQLite (analysis + FAQ + insights + kinds + keyword facts): "
                f"{time.perf_counter() - lap:.1f} s for {result.texts:,} texts"
            )
            engine.dispose()


if __name__ == "__main__":
    main()
