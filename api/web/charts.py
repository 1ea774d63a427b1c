"""Server-rendered horizontal bar charts (SVG) for the dashboard: no script, no CDN.

Each chart carries its numbers as text too (`<title>`, `<desc>`, a label per bar), so a
screen reader, a text browser or a test reads the same figures a person sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

LABEL_W: Final = 170
BAR_W: Final = 270
VALUE_W: Final = 165
ROW_H: Final = 24
BAR_H: Final = 15
TOP: Final = 6


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: `value` is drawn against the chart's maximum; `text` is printed beside
    it; `tone` is a CSS class (good, bad, warn, neutral); `lang` marks a label's language."""

    label: str
    value: float
    text: str
    tone: str = "neutral"
    lang: str | None = None


def bar_chart(title: str, bars: Sequence[Bar], *, maximum: float | None = None) -> str:
    """An SVG bar chart; `maximum` defaults to the largest value (at least 1). An empty
    chart says "no data" rather than drawing nothing."""
    if not bars:
        return (f'<p class="no-data" role="note"><strong>{escape(title)}</strong>: '
                "no data yet.</p>")
    top = max([maximum or 0.0, *(b.value for b in bars), 1e-9])
    height = TOP * 2 + ROW_H * len(bars)
    width = LABEL_W + BAR_W + VALUE_W
    summary = "; ".join(f"{b.label}: {b.text}" for b in bars)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(summary)}</desc>",
    ]
    for i, bar in enumerate(bars):
        y = TOP + i * ROW_H
        length = max(0.0, min(1.0, bar.value / top)) * BAR_W
        lang = f' lang="{escape(bar.lang)}"' if bar.lang else ""
        out.append(
            f'<g class="bar {escape(bar.tone)}">'
            f'<text x="{LABEL_W - 8}" y="{y + BAR_H - 3}" text-anchor="end" '
            f'class="bar-label"{lang}>{escape(bar.label)}</text>'
            f'<rect x="{LABEL_W}" y="{y}" width="{BAR_W}" height="{BAR_H}" class="track"/>'
            f'<rect x="{LABEL_W}" y="{y}" width="{length:.1f}" height="{BAR_H}" class="fill"/>'
            f'<text x="{LABEL_W + BAR_W + 8}" y="{y + BAR_H - 3}" class="bar-value">'
            f"{escape(bar.text)}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)


def rate_tone(rate: float | None) -> str:
    """good at or above 95 %, warn at or above 80 %, bad below; neutral without a rate."""
    if rate is None:
        return "neutral"
    if rate >= 0.95:
        return "good"
    return "warn" if rate >= 0.8 else "bad"
