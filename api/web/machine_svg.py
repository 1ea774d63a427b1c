"""A server-rendered SVG of the whole state machine with one order's path drawn on it.

All sub-states of the catalogue (41 in the packaged one) are drawn as boxes grouped by
main state, four main states to a row; the sub-states the order visited are filled, the
current one outlined, those where an SLA breach was recorded marked, and the path is
drawn as numbered arrows from each sub-state to the next. Pure: the same catalogue and
path always give the same text (a test compares), and no script or external resource
is involved, so the picture works under the console's strict CSP and in any viewer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise
from typing import Final

from statemodel.catalogue import Catalogue

COLUMNS: Final = 4
NODE_W: Final = 196
NODE_H: Final = 38
NODE_GAP: Final = 8
GROUP_PAD: Final = 10
GROUP_HEAD: Final = 38
COL_GAP: Final = 28
ROW_GAP: Final = 26
MARGIN: Final = 12
EN_MAX: Final = 36


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _short(text: str, limit: int = EN_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def layout(catalogue: Catalogue) -> tuple[dict[str, Box], dict[str, Box], float, float]:
    """(group box by main-state code, node box by sub-state code, width, height)."""
    mains = list(catalogue.main_states.values())
    members = {m.code: [s for s in catalogue.sub_states.values() if s.main == m.code]
               for m in mains}
    groups: dict[str, Box] = {}
    nodes: dict[str, Box] = {}
    group_w = NODE_W + 2 * GROUP_PAD
    y = float(MARGIN)
    for row_start in range(0, len(mains), COLUMNS):
        row = mains[row_start: row_start + COLUMNS]
        tallest = max(len(members[m.code]) for m in row)
        group_h = GROUP_HEAD + tallest * (NODE_H + NODE_GAP) - NODE_GAP + GROUP_PAD
        for col, main in enumerate(row):
            x = MARGIN + col * (group_w + COL_GAP)
            groups[main.code] = Box(x, y, group_w, group_h)
            for i, sub in enumerate(members[main.code]):
                nodes[sub.code] = Box(x + GROUP_PAD, y + GROUP_HEAD + i * (NODE_H + NODE_GAP),
                                      NODE_W, NODE_H)
        y += group_h + ROW_GAP
    width = MARGIN * 2 + COLUMNS * group_w + (COLUMNS - 1) * COL_GAP
    return groups, nodes, width, y - ROW_GAP + MARGIN


def _edge_point(box: Box, dx: float, dy: float) -> tuple[float, float]:
    """Where the ray from the box's centre in direction (dx, dy) leaves the box."""
    scale = min(
        (box.w / 2) / abs(dx) if dx else math.inf,
        (box.h / 2) / abs(dy) if dy else math.inf,
    )
    return box.cx + dx * scale, box.cy + dy * scale


def _segment(a: Box, b: Box, bend: float) -> tuple[str, tuple[float, float]]:
    """A gently curved path from box a to box b, and the point half way along it. Boxes
    in one column are joined by an arc out on their right, clear of the boxes between."""
    dx, dy = b.cx - a.cx, b.cy - a.cy
    if abs(dx) < 1:
        x = a.x + a.w
        reach = x + 14 + min(abs(dy) * 0.12, 22)
        c1, c2 = (reach, a.cy), (reach, b.cy)
        mid = ((x + 3 * c1[0] + 3 * c2[0] + x) / 8, (a.cy + 3 * c1[1] + 3 * c2[1] + b.cy) / 8)
        return (f"M{x:.1f},{a.cy:.1f} C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} "
                f"{x + 1:.1f},{b.cy:.1f}"), mid
    length = math.hypot(dx, dy) or 1.0
    x0, y0 = _edge_point(a, dx, dy)
    x2, y2 = _edge_point(b, -dx, -dy)
    nx, ny = -dy / length, dx / length
    cx, cy = (x0 + x2) / 2 + nx * bend, (y0 + y2) / 2 + ny * bend
    mid = (0.25 * x0 + 0.5 * cx + 0.25 * x2, 0.25 * y0 + 0.5 * cy + 0.25 * y2)
    return f"M{x0:.1f},{y0:.1f} Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}", mid


def render_machine_svg(catalogue: Catalogue, path: Sequence[str], *,
                       breached: frozenset[str] = frozenset(),
                       title: str = "Order path through the state machine") -> str:
    """The SVG document (inline-ready, no XML prolog) of `catalogue` with `path` drawn.

    `path` lists sub-state codes in visiting order (repeats allowed; codes the catalogue
    lacks are skipped, so a tampered record cannot break the picture).
    """
    groups, nodes, width, height = layout(catalogue)
    steps = [code for code in path if code in nodes]
    visited = set(steps)
    current = steps[-1] if steps else None
    moves = [(a, b) for a, b in pairwise(steps) if a != b]
    described = " → ".join(
        f"{i + 1}. {code} {catalogue.sub_states[code].name_en}" for i, code in enumerate(
            [c for n, c in enumerate(steps) if n == 0 or steps[n - 1] != c]
        )
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="machine" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img" '
        'aria-labelledby="machine-title machine-desc">',
        f'<title id="machine-title">{escape(title)}</title>',
        f'<desc id="machine-desc">{escape(described or "no records")}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrow-head"/></marker></defs>',
    ]
    for code, box in groups.items():
        main = catalogue.main_states[code]
        active = any(n in visited for n, s in catalogue.sub_states.items() if s.main == code)
        out.append(
            f'<g class="group{" group-visited" if active else ""}">'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
            'rx="8"/>'
            f'<text x="{box.x + GROUP_PAD:.1f}" y="{box.y + 16:.1f}" class="group-title">'
            f'{escape(code)} <tspan lang="zh-CN">{escape(main.name_zh)}</tspan></text>'
            f'<text x="{box.x + GROUP_PAD:.1f}" y="{box.y + 30:.1f}" class="group-en">'
            f'{escape(_short(main.name_en, 34))}</text></g>'
        )
    for code, box in nodes.items():
        sub = catalogue.sub_states[code]
        classes = ["node"]
        if code in visited:
            classes.append("visited")
        if code == current:
            classes.append("current")
        if code in breached:
            classes.append("breached")
        tooltip = f"{code} {sub.name_zh} / {sub.name_en}"
        if code in visited:
            tooltip += f" — visited {steps.count(code)}×"
        out.append(
            f'<g class="{" ".join(classes)}" data-code="{escape(code)}">'
            f'<title>{escape(tooltip)}</title>'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
            'rx="5"/>'
            f'<text x="{box.x + 7:.1f}" y="{box.y + 15:.1f}" class="node-zh">'
            f'<tspan class="code">{escape(code)}</tspan> '
            f'<tspan lang="zh-CN">{escape(sub.name_zh)}</tspan></text>'
            f'<text x="{box.x + 7:.1f}" y="{box.y + 30:.1f}" class="node-en">'
            f'{escape(_short(sub.name_en))}</text>'
            + (f'<circle cx="{box.x + box.w - 9:.1f}" cy="{box.y + 9:.1f}" r="4.5" '
               'class="breach-dot"/>' if code in breached else "")
            + "</g>"
        )
    labels = []
    for n, (a, b) in enumerate(moves):
        bend = 18.0 if n % 2 == 0 else -18.0
        d, (mx, my) = _segment(nodes[a], nodes[b], bend)
        out.append(f'<path d="{d}" class="path" marker-end="url(#arrow)"/>')
        labels.append(
            f'<g class="step"><circle cx="{mx:.1f}" cy="{my:.1f}" r="8"/>'
            f'<text x="{mx:.1f}" y="{my + 3.5:.1f}" text-anchor="middle">{n + 1}</text></g>'
        )
    out.extend(labels)  # drawn last: step numbers stay readable over crossing lines
    out.append("</svg>")
    return "\n".join(out)
