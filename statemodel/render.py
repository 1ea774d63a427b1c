"""Human views of a catalogue: a terminal table, a Mermaid diagram, the Markdown doc.

Pure functions of a `Catalogue`; the same catalogue always renders the same text, which
is what lets a test compare the committed `docs/state-model.md` with a fresh render.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from statemodel.catalogue import Catalogue, SubState
from statemodel.sla import TimerSpec

DOC_COMMAND = "orderledger model doc -o docs/state-model.md"
_WIDE = frozenset({"W", "F"})


def display_width(text: str) -> int:
    """Terminal columns `text` occupies: East Asian wide/full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in _WIDE else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def _flags(sub: SubState) -> str:
    return ("I" if sub.initial else "-") + ("F" if sub.final else "-")


def render_table(cat: Catalogue) -> str:
    """A fixed-width table of every sub-state, grouped by main state, for a terminal.

    Columns: main state, code, 中文, English, flags (I initial, F final), responsible
    parties, timer names. Wide characters are counted as two columns.
    """
    header = ("Main", "Code", "中文", "English", "I/F", "Responsible", "Timers")
    rows: list[tuple[str, ...]] = []
    for main in cat.main_states.values():
        first = True
        for sub in cat.sub_states.values():
            if sub.main != main.code:
                continue
            rows.append((
                f"{main.code} {main.name_zh}" if first else "",
                sub.code,
                sub.name_zh,
                sub.name_en,
                _flags(sub),
                ", ".join(sub.responsible),
                ", ".join(timer.name for timer in sub.timers) or "-",
            ))
            first = False
    widths = [max(display_width(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        f"{cat.title}",
        f"catalogue {cat.id} {cat.version}  {cat.digest}",
        "",
        "  ".join(_pad(cell, widths[i]) for i, cell in enumerate(header)).rstrip(),
        "  ".join("-" * width for width in widths),
    ]
    lines += ["  ".join(_pad(c, widths[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def _mermaid_id(code: str) -> str:
    return code.replace(".", "_")


def _mermaid_label(text: str) -> str:
    # A double quote would end the label; Mermaid has no escape for it inside state names.
    return text.replace('"', "'")


def render_mermaid(cat: Catalogue) -> str:
    """Mermaid `stateDiagram-v2`: main states as composites, every edge labelled.

    `"*"` transitions are expanded. Edges inside one main state are drawn inside its
    composite; edges between main states at top level (Mermaid cannot draw an edge
    between inner states of two composites from inside either of them).
    """
    lines = ["stateDiagram-v2"]
    edges = list(cat.edges())
    for main in cat.main_states.values():
        label = _mermaid_label(f"{main.code} {main.name_zh} / {main.name_en}")
        lines.append(f'    state "{label}" as {main.code} {{')
        for sub in cat.sub_states.values():
            if sub.main == main.code:
                sub_label = _mermaid_label(f"{sub.code} {sub.name_zh} / {sub.name_en}")
                lines.append(f'        state "{sub_label}" as {_mermaid_id(sub.code)}')
        for event, source, target in edges:
            if cat.sub_states[source].main == main.code == cat.sub_states[target].main:
                lines.append(f"        {_mermaid_id(source)} --> {_mermaid_id(target)} : {event}")
        lines.append("    }")
    for creation in cat.creations:
        lines.append(f"    [*] --> {_mermaid_id(creation.to)} : {creation.event}")
    for event, source, target in edges:
        if cat.sub_states[source].main != cat.sub_states[target].main:
            lines.append(f"    {_mermaid_id(source)} --> {_mermaid_id(target)} : {event}")
    for sub in cat.sub_states.values():
        if sub.final:
            lines.append(f"    {_mermaid_id(sub.code)} --> [*]")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def _timer_text(timer: TimerSpec, raw_warn: Sequence[str]) -> str:
    text = f"{timer.name}: `{timer.rule.text}`"
    extras = []
    if raw_warn:
        extras.append("warn " + ", ".join(raw_warn))
    if timer.disarm_on:
        extras.append("reset on " + ", ".join(timer.disarm_on))
    return text + (f" ({'; '.join(extras)})" if extras else "")


def render_state_model_doc(cat: Catalogue) -> str:
    """The Markdown of `docs/state-model.md`: header, diagram and tables. Never edit the
    output by hand; regenerate it with DOC_COMMAND (`make docs`)."""
    document = cat.document
    warn_before = {
        (entry["code"], timer["name"]): tuple(timer.get("warn_before", ()))
        for entry in document["sub_states"]
        for timer in entry["timers"]
    }
    lines = [
        "# Order state model",
        "",
        "<!-- GENERATED FILE: do not edit by hand. -->",
        f"Generated from `statemodel/data/catalogue.yaml` by `{DOC_COMMAND}` (also `make docs`).",
        "Do not edit by hand: change the catalogue and regenerate; a test fails while this",
        "file differs from a fresh render.",
        "",
        f"- catalogue: `{cat.id}` version `{cat.version}`, effective from `{cat.effective_from}`",
        f"- digest (named by every record as `model`): `{cat.digest}`",
        f"- {len(cat.main_states)} main states, {len(cat.sub_states)} sub-states, "
        f"{len(cat.events)} events, {sum(1 for _ in cat.edges())} edges",
        "",
        "## Diagram",
        "",
        "```mermaid",
        render_mermaid(cat).rstrip("\n"),
        "```",
        "",
        "## Main states",
        "",
    ]
    lines += _md_table(
        ("Code", "中文", "English", "Definition"),
        [(m.code, m.name_zh, m.name_en, m.definition_en) for m in cat.main_states.values()],
    )
    lines += ["", "## Sub-states", ""]
    lines += _md_table(
        ("Code", "中文", "English", "Flags", "Responsible", "Action",
         "Required actionable fields", "Timers"),
        [
            (
                sub.code,
                sub.name_zh,
                sub.name_en,
                " ".join(f for f, on in (("initial", sub.initial), ("final", sub.final)) if on),
                ", ".join(sub.responsible),
                f"`{sub.action.code}`: {sub.action.description_en}",
                ", ".join(f"`{name}`" for name in sub.required_fields),
                "<br>".join(
                    _timer_text(t, warn_before[(sub.code, t.name)]) for t in sub.timers
                ) or "—",
            )
            for sub in cat.sub_states.values()
        ],
    )
    lines += ["", "## Creations (seq 0)", ""]
    lines += _md_table(("Event", "Creates the order in"),
                       [(f"`{c.event}`", c.to) for c in cat.creations])
    lines += ["", "## Transitions", ""]
    lines += _md_table(
        ("Event", "From", "To"),
        [
            (
                f"`{t.event}`",
                "`*` (every non-final sub-state)" if t.from_any else ", ".join(t.from_states),
                t.to,
            )
            for t in cat.transitions
        ],
    )
    lines += ["", "## Events", ""]
    lines += _md_table(("Event", "中文", "English"),
                       [(f"`{e.name}`", e.description_zh, e.description_en)
                        for e in cat.events.values()])
    return "\n".join(lines) + "\n"
