"""Validation: typed good rows, and one quarantine row per bad row with the rule and reason of each check."""

from __future__ import annotations

import json
import textwrap
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from etl import sources, validate
from etl.mapping import parse_mapping
from tests.etl.conftest import GOOD_ROWS, HOTLINE_MAPPING, calls_csv


def _run(tmp_path: Path, rows: list[str], mapping_text: str = HOTLINE_MAPPING) -> tuple[pl.DataFrame, pl.DataFrame]:
    mapping = parse_mapping(tomllib.loads(textwrap.dedent(mapping_text)), base_dir=tmp_path)
    path = tmp_path / "calls_x.csv"
    path.write_text(calls_csv(rows), encoding="utf-8")
    raw = sources.scan_raw(path, "csv", mapping).with_columns(
        pl.lit(str(path)).alias("_file"), pl.lit(0, dtype=pl.Int32).alias("_order")
    )
    good, bad = validate.validate(sources.apply_mapping(raw, mapping), mapping, timezone="Asia/Shanghai", region="CN")
    return good.collect(), bad.collect()


def test_good_rows_are_typed_normalised_and_mapped(tmp_path: Path) -> None:
    good, bad = _run(tmp_path, GOOD_ROWS)
    assert bad.is_empty()
    first = good.row(0, named=True)
    assert first["interaction_id"] == "hotline:C1"
    assert first["occurred_at"] == datetime(2026, 3, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert first["phone"] == "+8613800138000"
    assert first["email"] == "wang.wei@example.com"
    assert first["handle_s"] == 120.0 and first["queue_wait_s"] == 30.0
    assert first["abandoned"] is False and first["resolved"] is True
    assert first["touchpoint"] == "shipping" and first["kind"] == "complaint" and first["direction"] == "inbound"
    assert (first["nps"], first["csat"], first["ces"]) == (9, 5, 6)
    assert first["channel"] == "phone" and first["source"] == "hotline" and first["_line"] == 2
    second = good.row(1, named=True)
    assert second["phone"] == "+8613900139000" and second["email"] is None and second["nps"] is None
    assert second["text"] is None
    third = good.row(2, named=True)
    assert third["occurred_at"] == datetime(2026, 3, 6, 1, 15, tzinfo=UTC)  # second format
    assert third["handle_s"] == 50.0  # a null input of a [sum] counts as 0
    assert good.schema["nps"] == pl.Int8 and good.schema["birth_date"] == pl.Date


BASE = "C9,2026/03/05 10:00:00,13800138000,王伟,,A1,30,100,20,N,Y,物流,投诉,9,5,6,K1,x"
FIELDS = validate_fields = [
    "call_id", "start", "caller", "name", "email", "agent", "wait", "talk", "hold", "abandoned", "resolved",
    "category", "type", "nps", "csat", "ces", "case", "notes",
]  # fmt: skip


def _row(**changes: str) -> str:
    values = dict(zip(FIELDS, BASE.split(","), strict=True))
    values.update(changes)
    return ",".join(values[f] for f in FIELDS)


@pytest.mark.parametrize(
    ("row", "column", "rule", "reason"),
    [
        (_row(call_id=""), "record_id", "required", "record_id is empty"),
        (_row(start=""), "occurred_at", "required", "occurred_at is empty"),
        (_row(start="N/A"), "occurred_at", "required", "occurred_at is empty"),
        (_row(start="yesterday"), "occurred_at", "datetime", "'yesterday' matches none of the formats"),
        (_row(start="2026/02/31 10:00:00"), "occurred_at", "datetime", "'2026/02/31 10:00:00' matches none"),
        (_row(start="1960/01/01 00:00:00"), "occurred_at", "range", "is before 1970 or after 2100"),
        (_row(nps="11"), "nps", "range", "nps: '11' is outside 0–10"),
        (_row(nps="-1"), "nps", "range", "nps: '-1' is outside 0–10"),
        (_row(csat="0"), "csat", "range", "csat: '0' is outside 1–5"),
        (_row(ces="8"), "ces", "range", "ces: '8' is outside 1–7"),
        (_row(nps="7.5"), "nps", "type", "nps: '7.5' is not a whole number"),
        (_row(csat="good"), "csat", "type", "csat: 'good' is not a number"),
        (_row(wait="abc"), "queue_wait_s", "type", "queue_wait_s: 'abc' is not a number"),
        (_row(wait="-5"), "queue_wait_s", "range", "queue_wait_s: '-5.0' is negative"),
        (_row(talk="1min"), "handle_s", "type", "handle_s: not numbers in its sum: talk='1min'"),
        (_row(abandoned="maybe"), "abandoned", "type", "abandoned: 'maybe' is not true/false"),
        (_row(type="rant"), "kind", "value", "kind: 'rant' is not one of inquiry, complaint"),
        (_row(email="foo@@bar"), "email", "email", "email: 'foo@@bar' is not a well-formed e-mail address"),
        (_row(caller="000000"), "phone", "phone", "phone: '000000' is not a valid phone number (default region CN)"),
        (_row(agent="A" * 70), "agent_id", "length", "agent_id is longer than 64 characters"),
        (_row(call_id="R" * 250), "record_id", "length", "record_id is longer than 200 characters"),
        (BASE + ",extra-field", None, "ragged", "the row has more fields than the header"),
    ],
)
def test_every_quarantine_rule(tmp_path: Path, row: str, column: str | None, rule: str, reason: str) -> None:
    good, bad = _run(tmp_path, [GOOD_ROWS[0], row])
    assert good.height == 1 and bad.height == 1
    quarantined = bad.row(0, named=True)
    assert (quarantined["column"], quarantined["rule"]) == (column, rule)
    assert reason in quarantined["reason"]
    assert quarantined["source"] == "hotline" and quarantined["line"] == 3
    assert quarantined["file"].endswith("calls_x.csv")
    raw = json.loads(quarantined["raw"])
    assert raw["call_id"] == (row.split(",")[0] or None)  # the row as read, every column
    assert set(FIELDS) <= set(raw)


def test_a_row_failing_several_checks_is_one_quarantine_row_with_every_reason(tmp_path: Path) -> None:
    _, bad = _run(tmp_path, [_row(nps="11", email="x@", csat="9")])
    assert bad.height == 1
    row = bad.row(0, named=True)
    assert row["rule"] == "range" and row["column"] == "nps"  # first failed check in field order
    assert "nps: '11'" in row["reason"] and "csat: '9'" in row["reason"] and "email: 'x@'" in row["reason"]


def test_placeholders_are_missing_values_not_errors(tmp_path: Path) -> None:
    good, bad = _run(tmp_path, [_row(caller="N/A", email="null", nps="-", name="无")])
    assert bad.is_empty()
    row = good.row(0, named=True)
    assert row["phone"] is None and row["email"] is None and row["nps"] is None and row["name"] is None


def test_rows_in_equal_rows_out(tmp_path: Path) -> None:
    rows = [*GOOD_ROWS, _row(call_id=""), _row(nps="99"), BASE + ",x,y", _row(start="soon")]
    good, bad = _run(tmp_path, rows)
    assert good.height + bad.height == len(rows)
    assert sorted(bad.get_column("line").to_list()) == [5, 6, 7, 8]


def test_typed_sources_epochs_offsets_and_scale(tmp_path: Path) -> None:
    mapping = parse_mapping(
        {
            "source": "app",
            "channel": "app",
            "files": ["*.parquet"],
            "timezone": "UTC",
            "columns": {"id": "record_id", "t": "occurred_at", "ms": "first_response_s", "ok": "resolved"},
            "scale": {"first_response_s": 0.001},
        }
    )
    frame = pl.DataFrame(
        {
            "id": [1, 2],
            "t": [datetime(2026, 1, 1, 8, 0), None],
            "ms": [1500, None],
            "ok": [1, 0],
        }
    )
    path = tmp_path / "a.parquet"
    frame.write_parquet(path)
    raw = sources.scan_raw(path, "parquet", mapping).with_columns(pl.lit("a").alias("_file"), pl.lit(0).alias("_order"))
    good, bad = validate.validate(sources.apply_mapping(raw, mapping), mapping, timezone="Asia/Shanghai", region="CN")
    good_frame, bad_frame = good.collect(), bad.collect()
    assert good_frame.row(0, named=True)["occurred_at"] == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    assert good_frame.row(0, named=True)["first_response_s"] == 1.5
    assert good_frame.row(0, named=True)["record_id"] == "1"
    assert bad_frame.row(0, named=True)["rule"] == "required"

    epoch = parse_mapping(
        {
            "source": "wechat",
            "channel": "wechat",
            "files": ["*.csv"],
            "columns": {"id": "record_id", "t": "occurred_at", "b": "birth_date"},
            "formats": {"occurred_at": ["epoch_ms", "%Y-%m-%dT%H:%M:%S%z"], "birth_date": ["%Y%m%d"]},
        }
    )
    csv = tmp_path / "w.csv"
    csv.write_text("id,t,b\n1,1759702869232,19800102\n2,2026-03-05T14:22:01+08:00,\n3,2026-03-05,1980-13-01\n", "utf-8")
    raw = sources.scan_raw(csv, "csv", epoch).with_columns(pl.lit("w").alias("_file"), pl.lit(0).alias("_order"))
    good, bad = validate.validate(sources.apply_mapping(raw, epoch), epoch, timezone="Asia/Shanghai", region="CN")
    good_frame, bad_frame = good.collect(), bad.collect()
    assert good_frame.get_column("occurred_at").to_list() == [
        datetime(2025, 10, 5, 22, 21, 9, 232000, tzinfo=UTC),
        datetime(2026, 3, 5, 6, 22, 1, tzinfo=UTC),
    ]
    assert good_frame.get_column("birth_date").to_list() == [date(1980, 1, 2), None]
    assert bad_frame.get_column("rule").to_list() == ["datetime"]  # and its birth date is bad too
    assert "birth_date: '1980-13-01'" in bad_frame.item(0, "reason")
