"""Formula-safe exports: CSV and Excel files whose cells can never run as spreadsheet formulas."""

from __future__ import annotations

import io

import polars as pl

#: A cell starting with one of these is prefixed with an apostrophe (OWASP CSV injection guidance).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell that a spreadsheet could read as a formula gets a leading apostrophe."""
    string_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not string_columns:
        return frame
    pattern = (
        "^["
        + "".join(
            {"\t": r"\t", "\r": r"\r", "\x00": r"\x00", "-": r"\-", "+": r"\+"}.get(c, c) for c in FORMULA_TRIGGERS
        )
        + "]"
    )
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(pattern)).then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name in string_columns
    )


def to_csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 CSV with a byte-order mark (so Excel opens Chinese text correctly), formula-safe."""
    return b"\xef\xbb\xbf" + neutralise(frame).write_csv().encode("utf-8")


def to_excel_bytes(frame: pl.DataFrame, sheet: str = "data") -> bytes:
    """An .xlsx workbook with every value written as data (strings never become formulas)."""
    buffer = io.BytesIO()
    neutralise(frame).write_excel(buffer, worksheet=sheet[:31], autofit=True)
    return buffer.getvalue()
