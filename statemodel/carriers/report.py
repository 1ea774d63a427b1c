"""The generated part of docs/carrier-mapping.md: counts and event coverage per source.

`python -m statemodel.carriers.report` prints it; a test fails when the document and the
tables disagree, so the summary cannot go stale.
"""

from __future__ import annotations

from collections import Counter

from statemodel.carriers.mapping import Mapped, MappingBook, load_mappings

BEGIN_MARKER = "<!-- BEGIN GENERATED: python -m statemodel.carriers.report -->"
END_MARKER = "<!-- END GENERATED -->"


def render_summary(book: MappingBook) -> str:
    """Markdown tables (between the markers): per-source counts, then codes per event."""
    lines = [BEGIN_MARKER, "", "| source | version | catalogue | mapped | unmappable | total |",
             "|---|---|---|---:|---:|---:|"]
    for source in book.sources():
        table = book.table(source)
        counts = table.counts
        lines.append(f"| {source} | {table.mapping_version} | {table.catalogue_version} | "
                     f"{counts.mapped} | {counts.unmappable} | {counts.total} |")
    total = book.total()
    lines.append(f"| **all** | | | **{total.mapped}** | **{total.unmappable}** | "
                 f"**{total.total}** |")
    per_event: dict[str, Counter[str]] = {}
    for source in book.sources():
        for entry in book.table(source).entries.values():
            if isinstance(entry, Mapped):
                per_event.setdefault(entry.event, Counter())[source] += 1
    lines += ["", "| catalogue event | leads to | " + " | ".join(book.sources()) + " |",
              "|---|---|" + "---:|" * len(book.sources())]
    for event in sorted(per_event):
        cells = [str(per_event[event][source] or "") for source in book.sources()]
        targets = ", ".join(book.targets(event))
        lines.append(f"| `{event}` | {targets} | " + " | ".join(cells) + " |")
    unused = sorted(
        {t.event for t in book.catalogue.transitions} - set(per_event)
    )
    lines += ["", "Catalogue events no carrier code maps to (platform, merchant or system "
              "events): " + ", ".join(f"`{name}`" for name in unused) + ".", "", END_MARKER]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_summary(load_mappings()))
