"""Fixtures of the ETL tests: small channel exports with their mapping files, written per test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

HOTLINE_MAPPING = """
source = "hotline"
channel = "phone"
files = ["calls*.csv"]
timezone = "Asia/Shanghai"
phone_region = "CN"

[columns]
call_id = "record_id"
start = "occurred_at"
caller = "phone"
name = "name"
email = "email"
agent = "agent_id"
wait = "queue_wait_s"
abandoned = "abandoned"
resolved = "resolved"
category = "touchpoint"
type = "kind"
nps = "nps"
csat = "csat"
ces = "ces"
case = "case_id"
notes = "text"

[formats]
occurred_at = ["%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M"]

[sum]
handle_s = ["talk", "hold"]

[values.abandoned]
Y = true
N = false

[values.touchpoint]
"物流" = "shipping"

[values.kind]
"投诉" = "complaint"
"咨询" = "inquiry"

[constants]
direction = "inbound"
"""

HEADER = "call_id,start,caller,name,email,agent,wait,talk,hold,abandoned,resolved,category,type,nps,csat,ces,case,notes"


def calls_csv(rows: list[str]) -> str:
    """A hotline export: the header plus ``rows`` (each a CSV line)."""
    return HEADER + "\n" + "\n".join(rows) + "\n"


GOOD_ROWS = [
    "C1,2026/03/05 10:00:00,138 0013 8000,王伟,Wang.Wei@Example.com ,A1,30,100,20,N,Y,物流,投诉,9,5,6,K1,快递没到",
    "C2,2026/03/05 11:30:00,+86-139-0013-9000,李娜,,A2,5,60,0,N,N,物流,咨询,,4,,K2,",
    "C3,2026-03-06 09:15,13800138000,王伟,,A1,12,50,,N,Y,,咨询,10,,,K1,again",
]


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """A folder with hotline.toml and calls_1.csv (three good rows)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "hotline.toml").write_text(textwrap.dedent(HOTLINE_MAPPING), encoding="utf-8")
    (folder / "calls_1.csv").write_text(calls_csv(GOOD_ROWS), encoding="utf-8")
    return folder
