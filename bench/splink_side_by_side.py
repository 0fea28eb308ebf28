"""Our identity resolution and Splink (DuckDB backend) on the same records: time and pairwise quality side by side.

    python bench/splink_side_by_side.py [--customers 5000] [--seed 7]

Splink gets a standard dedupe model on the same normalised records (``etl.normalise``): exact-match comparisons
on the strong identifiers (no term-frequency adjustment: a value seen often is one busy customer, not a common
value, and the adjustment cut recall to 0.10), Jaro-Winkler on the name key, exact birth date and
postcode, Levenshtein on the address key; blocking rules on each strong identifier and on name + birth date /
name + postcode; λ from deterministic rules on the strong identifiers, u by random sampling, m by EM (one session per blocking rule, as in
Splink's tutorials); predictions clustered with connected components at each of several match-probability
thresholds, and Splink's best F1 reported (the threshold tuned on the ground truth: generous to Splink). Bench-only
dependency: ``pip install -r requirements-bench.txt``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.identity_quality import pairwise, read_demo
from etl.identity import resolve
from etl.identity_config import IdentityConfig
from etl.identity_fuzzy import address_key_expr

STRONG = ("phone", "email", "wechat_id", "device_id", "crm_id", "member_id", "social_handle")


def splink_input(records: pl.DataFrame, config: IdentityConfig | None = None) -> pl.DataFrame:
    """The records as Splink sees them: the same normalised values, cleaned the way any Splink user would —
    invalid phones / e-mails and blocklisted placeholders (``13800000000``, ``test@test.com``) as null. Our
    modelling guards (frequency caps, conflicting ids, stable ids) are *not* applied."""
    config = config or IdentityConfig()
    frame = records
    if "phone_valid" in frame.columns:
        frame = frame.with_columns(pl.when(pl.col("phone_valid")).then(pl.col("phone")).alias("phone"))
    if "email_valid" in frame.columns:
        frame = frame.with_columns(pl.when(pl.col("email_valid")).then(pl.col("email")).alias("email"))
    blocked = config.normalised_blocklist()
    anywhere = [v for value in config.blocklist_any for v in (value, value.upper(), value.title())]
    frame = frame.with_columns(
        [
            pl.when(pl.col(c).is_in([*blocked.get(c, []), *anywhere])).then(None).otherwise(pl.col(c)).alias(c)
            for c in STRONG
        ]
    )
    return frame.select(
        pl.col("interaction_id").alias("unique_id"),
        *[pl.col(c).cast(pl.String) for c in STRONG],
        pl.col("name_key"),
        pl.col("birth_date").cast(pl.String),
        pl.col("postcode").cast(pl.String),
        address_key_expr("address").alias("address_key"),
    )


THRESHOLDS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99)


def run_splink(
    records: pl.DataFrame, truth: pl.DataFrame, thresholds: tuple[float, ...] = THRESHOLDS
) -> dict[str, Any]:
    """Train a standard Splink dedupe model, predict once, cluster at each threshold.

    Returns the seconds of train + predict + one clustering, and pairwise quality per threshold. The best
    threshold is picked with the ground truth — a generous upper bound for Splink (ours gets no such tuning).
    """
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    db_api = DuckDBAPI()
    table = db_api.register(splink_input(records).to_arrow())
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            *[cl.ExactMatch(c) for c in STRONG],
            cl.JaroWinklerAtThresholds("name_key", [0.92, 0.8]),
            cl.ExactMatch("birth_date"),
            cl.ExactMatch("postcode"),
            cl.LevenshteinAtThresholds("address_key", [2, 5]),
        ],
        blocking_rules_to_generate_predictions=[
            *[block_on(c) for c in STRONG],
            block_on("name_key", "birth_date"),
            block_on("name_key", "postcode"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(table, settings, log_level=logging.ERROR)
    # λ from deterministic rules: nearly every true pair in this data shares some strong identifier
    linker.training.estimate_probability_two_random_records_match([block_on(c) for c in STRONG], recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
    for rule in (block_on("name_key"), block_on("phone"), block_on("email"), block_on("member_id")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=min(thresholds))
    trained = time.perf_counter() - started
    scores: dict[float, dict[str, float]] = {}
    cluster_s: dict[float, float] = {}
    for threshold in thresholds:
        t0 = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
        frame = pl.from_arrow(clusters.as_duckdbpyrelation().select("unique_id, cluster_id").arrow())
        cluster_s[threshold] = time.perf_counter() - t0
        assert isinstance(frame, pl.DataFrame)
        assigned = frame.select(pl.col("unique_id").alias("interaction_id"), pl.col("cluster_id").cast(pl.String))
        scores[threshold] = pairwise(assigned, truth, cluster="cluster_id")
    best = max(thresholds, key=lambda t: scores[t]["f1"])
    return {
        "seconds": trained + cluster_s[best],
        "threshold": best,
        **scores[best],
        "by_threshold": {t: round(scores[t]["f1"], 4) for t in thresholds},
    }


def run_side_by_side(
    records: pl.DataFrame, truth: pl.DataFrame, *, config: IdentityConfig | None = None
) -> dict[str, Any]:
    """Both tools on ``records`` (normalised, ``etl.normalise``) against ``truth`` (``interaction_id, person_id``);
    prints and returns time and pairwise precision / recall / F1 of each."""
    started = time.perf_counter()
    ours = resolve(records.lazy(), previous=None, overrides=[], config=config or IdentityConfig())
    ours_s = time.perf_counter() - started
    ours_q = pairwise(ours.assignments, truth)
    theirs = run_splink(records, truth)
    result = {
        "records": records.height,
        "ours": {"seconds": ours_s, **ours_q},
        "splink": theirs,
        "speedup": theirs["seconds"] / ours_s if ours_s else float("inf"),
    }
    print(f"{records.height:,} records (pairwise scores over records, from the ground truth)")
    print(f"{'':22s} {'seconds':>9s} {'precision':>10s} {'recall':>8s} {'F1':>8s}")
    rows = (("ours (etl.identity)", result["ours"]), (f"splink (p >= {theirs['threshold']})", theirs))
    for name, row in rows:
        print(f"{name:22s} {row['seconds']:9.2f} {row['precision']:10.4f} {row['recall']:8.4f} {row['f1']:8.4f}")
    print(f"splink F1 by threshold: {theirs['by_threshold']}")
    print(f"ours is {result['speedup']:.0f}x faster; F1 ours - splink = {ours_q['f1'] - theirs['f1']:+.4f}")
    return result


def side_by_side(folder: Path, ours: pl.DataFrame | None = None) -> dict[str, Any]:
    """Hook for bench/etl_bench.py: the demo exports in ``folder`` (with ground_truth.csv). ``ours`` (the loaded
    ``interaction_id, profile_id``) is scored too when given."""
    records, truth = read_demo(Path(folder))
    result = run_side_by_side(records, truth)
    if ours is not None:
        loaded = pairwise(ours, truth)
        result["ours_loaded"] = loaded
        print(
            f"as loaded by the ETL run: precision {loaded['precision']:.4f} recall {loaded['recall']:.4f} "
            f"F1 {loaded['f1']:.4f} over {loaded['records']:,} records"
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("/tmp/cx-identity-demo"))
    args = parser.parse_args(argv)
    from etl.demo import generate

    folder = args.out / f"{args.customers}-{args.seed}"
    if not (folder / "ground_truth.csv").exists():
        generate(args.customers, args.seed, folder)
    records, truth = read_demo(folder)
    run_side_by_side(records, truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
