"""One look for every chart: a Plotly template with fonts that render Chinese, and the status palette."""

from __future__ import annotations

from typing import Literal

import plotly.graph_objects as go
import plotly.io as pio

from ui.i18n import Language, t

Status = Literal["good", "watch", "bad", "neutral"]

#: The one status palette (colour is never the only signal: STATUS_SYMBOL and a word go with it).
STATUS_COLOURS: dict[str, str] = {"good": "#1a7f37", "watch": "#bf8700", "bad": "#cf222e", "neutral": "#6e7781"}
STATUS_SYMBOL: dict[str, str] = {"good": "●", "watch": "▲", "bad": "▼", "neutral": "○"}
SERIES_COLOURS = ["#1f6feb", "#8250df", "#1a7f37", "#bf8700", "#cf222e", "#0969da", "#6e7781", "#e16f24", "#2da44e"]
FONT_FAMILY = "Noto Sans CJK SC, Noto Sans SC, PingFang SC, Microsoft YaHei, Source Han Sans SC, sans-serif"

pio.templates["cx"] = go.layout.Template(
    layout=go.Layout(
        font={"family": FONT_FAMILY, "size": 13},
        colorway=SERIES_COLOURS,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        xaxis={"showgrid": False},
        yaxis={"gridcolor": "#eaeef2", "zeroline": False},
        plot_bgcolor="white",
        paper_bgcolor="white",
    )
)
pio.templates.default = "cx"


def status_label(status: Status, language: Language | None = None) -> str:
    """'● On target' — symbol plus word, never colour alone."""
    return f"{STATUS_SYMBOL[status]} {t(f'status.{status}', language)}"
