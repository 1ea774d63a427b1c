"""The evidence report: one order's evidence as a PDF a court can read (reportlab).

It holds the order summary, the full timeline, the verifier's results, the keys with
their fingerprints and validity intervals, the checkpoint text, the SHA-256 of the
accompanying bundle and plain-language instructions to verify it independently. Text is
real text (extractable with "pdftotext"), Chinese included: a TrueType CJK font is
embedded (subset). Noto CJK ships as CFF/OpenType collections, which reportlab cannot
embed, so the report uses WenQuanYi Micro Hei ("fonts-wqy-microhei") or another TrueType
CJK font from "CJK_FONTS"; "scripts/system-deps.sh" installs one.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    KeepTogether,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from api.web.timeline import OrderEvidence, RecordView
from statemodel.errors import OrderledgerError

#: TrueType CJK fonts (path, index in a collection), first found wins.
CJK_FONTS: Final = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)
MONO_FONTS: Final = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)
BODY: Final = "OLBody"
MONO: Final = "OLMono"
PAGE_W, PAGE_H = A4
MARGIN: Final = 16 * mm
WIDTH: Final = PAGE_W - 2 * MARGIN
RULES: Final = (
    (0, "keys match the trust set (the ledger's published keys)"),
    (1, "bundle format and statement fields (evidence-format v1)"),
    (2, "checkpoint signed by the log key"),
    (3, "record signatures, within each key's validity interval"),
    (4, "per-order hash chain: seq 0..n, every prev links"),
    (5, "payload digests (where a payload is present)"),
    (6, "every transition follows an edge of the state catalogue"),
    (7, "every record included in the checkpoint's Merkle tree"),
)


class ReportFontMissing(OrderledgerError):
    """No usable TrueType CJK font is installed (run scripts/system-deps.sh)."""


@functools.cache
def register_fonts() -> tuple[str, str]:
    """Register the body (CJK) and monospace fonts once; returns their names.

    Raises ReportFontMissing when no CJK font of CJK_FONTS loads. Without a monospace
    font, Courier (a PDF standard font, not embedded) stands in.
    """
    for path, index in CJK_FONTS:
        if not Path(path).is_file():
            continue
        try:
            pdfmetrics.registerFont(TTFont(BODY, path, subfontIndex=index))
        except Exception:  # noqa: S112 - reportlab raises bare TTFError/others: try the next
            continue
        break
    else:
        raise ReportFontMissing(
            "no TrueType CJK font found for the PDF report; install fonts-wqy-microhei "
            "(scripts/system-deps.sh does)")
    mono = "Courier"
    for path in MONO_FONTS:
        if Path(path).is_file():
            pdfmetrics.registerFont(TTFont(MONO, path))
            mono = MONO
            break
    return BODY, mono


def _styles(body: str, mono: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=body, fontSize=9, leading=12.5)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=22, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12.5, leading=16, spaceBefore=10,
                             spaceAfter=4, textColor=colors.HexColor("#1f4e8c")),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.6),
        "mono": ParagraphStyle("mono", parent=base, fontName=mono, fontSize=7.4, leading=9.6),
        "mono_small": ParagraphStyle("mono_small", parent=base, fontName=mono, fontSize=6.6,
                                     leading=8.6),
        "ok": ParagraphStyle("ok", parent=base, fontSize=11,
                             textColor=colors.HexColor("#1e7b45")),
        "bad": ParagraphStyle("bad", parent=base, fontSize=11,
                              textColor=colors.HexColor("#b3261e")),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _grid(rows: Sequence[Sequence[Any]], widths: Sequence[float], *,
          header: bool = True) -> Table:
    table = Table(list(rows), colWidths=list(widths), repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c9d1dc")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")))
    table.setStyle(TableStyle(style))
    return table


def _state_lines(record: RecordView) -> str:
    target = f"{record.target.code} {record.target.zh}\n{record.target.en}"
    if record.kind != "transition":
        return f"{record.kind.replace('_', ' ')} in\n{target}"
    if record.source is None:
        return f"created in\n{target}"
    return f"{record.source.code} {record.source.zh}\n{record.source.en}\n→ {target}"


def _checks(record: RecordView) -> str:
    return "\n".join(b.label for b in record.verdict.badges)


def _timeline(ev: OrderEvidence, st: dict[str, ParagraphStyle]) -> list[Any]:
    cell = st["cell"]
    rows: list[list[Any]] = [[_p(h, cell) for h in
                              ("#", "event time /\nrecorded at", "sub-state (zh / en)",
                               "event / actor", "verification")]]
    for r in ev.records:
        rows.append([
            _p(str(r.seq), cell),
            _p(f"{r.event_time}\n{r.recorded_at}", cell),
            _p(_state_lines(r), cell),
            _p(f"{r.event}\n{r.actor_type}: {r.actor_id}", cell),
            _p(_checks(r), cell),
        ])
    flow: list[Any] = [_grid(rows, [7 * mm, 37 * mm, 56 * mm, 36 * mm, WIDTH - 136 * mm])]
    flow.append(Paragraph("Actionable fields, findings and timers per record", st["h2"]))
    for r in ev.records:
        parts = [f"#{r.seq} {r.event} → {r.target.code}"]
        if r.erased:
            by = f" by record #{r.erased_by}" if r.erased_by is not None else ""
            parts.append(f"payload lawfully erased under retention{by}; the statement and "
                         "its salted digest still verify")
        parts += [f"{f.element or f.key} ({f.key}) = {f.value}" for f in r.fields]
        parts += [f"finding {f.rule_id} [{f.severity}]: {f.message} ({f.citation})"
                  for f in r.findings]
        parts += [f"SLA timer {t.name} armed, deadline {t.deadline}" for t in r.timers_armed]
        parts += [f"SLA timer {t.name} {'breached' if t.state == 'fired' else 'disarmed'}"
                  for t in r.timers_closed]
        flow.append(_p(" · ".join(parts), st["small"]))
        flow.append(Spacer(1, 2))
    return flow


def _summary(ev: OrderEvidence, st: dict[str, ParagraphStyle], generated_at: str,
             generated_by: str) -> list[Any]:
    v, dl, cell = ev.verification, ev.download, st["cell"]
    first = ev.records[0].event_time if ev.records else "–"
    last = ev.records[-1].event_time if ev.records else "–"
    result = ("VERIFIED: every rule of evidence-format §7 holds" if v.ok
              else f"FAILED: {len(v.report.failures)} rule violation(s), listed below")
    c = ev.current
    pairs = [
        ("Tenant", ev.tenant), ("Order", ev.order),
        ("Current state", f"{c.code} {c.zh} / {c.en}  ({c.main} {c.main_zh} / {c.main_en})"),
        ("Records", str(len(ev.records))), ("First / last event", f"{first} / {last}"),
        ("SLA breaches / findings", f"{ev.breaches} / {len(ev.findings)}"),
        ("Log", str(dl.bundle["log"])),
        ("Checkpoint", f"tree size {dl.checkpoint_size}, signed {dl.checkpoint_time or '–'}"),
        ("Verification", result),
        ("Report generated", f"{generated_at} by {generated_by}"),
    ]
    table = _grid([[_p(k, cell), _p(val, cell)] for k, val in pairs],
                  [38 * mm, WIDTH - 38 * mm], header=False)
    path = [f"{n}. {r.target.code} {r.target.zh} / {r.target.en} ({r.event}, {r.event_time})"
            for n, r in enumerate((r for r in ev.records if r.kind == "transition"), 1)]
    return [table, Paragraph("Path through the state machine", st["h2"]),
            *[_p(line, st["small"]) for line in path]]


def _verification(ev: OrderEvidence, st: dict[str, ParagraphStyle]) -> list[Any]:
    v, cell = ev.verification, st["cell"]
    failed = {f.rule for f in v.report.failures}
    rows = [[_p("rule", cell), _p("check", cell), _p("result", cell)]]
    for rule, text in RULES:
        if rule == 0 and not v.trusted:
            outcome = "not checked (no trust set)"
        else:
            outcome = "FAIL" if rule in failed else "pass"
        rows.append([_p(str(rule), cell), _p(text, cell), _p(outcome, cell)])
    flow: list[Any] = [
        _p("VERIFIED" if v.ok else "VERIFICATION FAILED", st["ok" if v.ok else "bad"]),
        _p("Computed by the same verifier as \"orderledger verify\", run on the exact bytes "
           "of the accompanying bundle" + (" with the ledger's published trust set."
                                           if v.trusted else " without a trust set."),
           st["base"]),
        Spacer(1, 4),
        _grid(rows, [12 * mm, WIDTH - 42 * mm, 30 * mm]),
    ]
    for f in v.report.failures:
        where = "bundle" if f.entry is None else f"entry {f.entry}"
        flow.append(_p(f"rule {f.rule} [{where}] {f.error}: {f.message}", st["small"]))
    for w in v.report.warnings:
        flow.append(_p(f"warning: {w}", st["small"]))
    return flow


def _keys(ev: OrderEvidence, st: dict[str, ParagraphStyle]) -> list[Any]:
    cell, mono = st["cell"], st["mono"]
    bundle = ev.download.bundle
    used: dict[str, int] = {}
    for r in ev.records:
        used[r.key_id] = used.get(r.key_id, 0) + 1
    rows = [[_p(h, cell) for h in ("key id", "SHA-256 of the public key / public key (b64)",
                                    "valid from / until", "records")]]
    for key in bundle["keys"]:
        raw = base64.b64decode(key["public_key"])
        rows.append([
            _p(key["key_id"], mono),
            _p(f"{hashlib.sha256(raw).hexdigest()}\n{key['public_key']}", st["mono_small"]),
            _p(f"{key['not_before']}\n{key['not_after'] or 'still active'}", cell),
            _p(str(used.get(key["key_id"], 0)), cell),
        ])
    return [
        _grid(rows, [27 * mm, WIDTH - 80 * mm, 39 * mm, 14 * mm]),
        Spacer(1, 4),
        _p("Log verifier key (signed-note form, signs checkpoints):", st["small"]),
        _p(str(bundle["log_key"]), mono),
    ]


def _preformatted(text: str, mono: str) -> Preformatted:
    """Exact text in a monospace size that fits the widest line on the page."""
    widest = max((pdfmetrics.stringWidth(line, mono, 1) for line in text.splitlines()),
                 default=1.0)
    size = max(4.0, min(8.0, WIDTH * 0.97 / max(widest, 1.0)))
    style = ParagraphStyle("pre", fontName=mono, fontSize=size, leading=size * 1.35)
    return Preformatted(text, style)


def _instructions(ev: OrderEvidence, st: dict[str, ParagraphStyle]) -> list[Any]:
    name = ev.download.filename()
    steps = [
        f"Keep this report together with the bundle file {name}. Check that the file is "
        f"the one described here: its SHA-256 must be {ev.download.sha256} (for example "
        f"\"sha256sum {name}\" on Linux, \"shasum -a 256 {name}\" on macOS, "
        f"\"certutil -hashfile {name} SHA256\" on Windows).",
        "Obtain the ledger's published key set (the trust set) independently of this "
        "report, from the operator or the court: \"orderledger keys export -o keys.json\". "
        "Compare its fingerprints with the keys listed above.",
        f"Run the offline verifier: \"orderledger verify {name} --trust keys.json\". It needs "
        "no database and no network; exit code 0 means every rule holds, 1 lists each "
        "failure with its rule and entry, 2 means the file cannot be read.",
        "Or verify by hand, following docs/evidence.md and the evidence format (v1): "
        "recompute each statement hash as SHA-256 of its RFC 8785 canonical JSON; check "
        "each Ed25519 signature over \"orderledger.record.v1\\0\" followed by that hash; "
        "check that each record's prev is the previous record's hash; check each inclusion "
        "proof against the checkpoint's root (RFC 9162); check the checkpoint's signature "
        "under the log key.",
        "An auditor who kept an earlier checkpoint can demand a consistency proof to this "
        "one (\"orderledger verify ... --checkpoint OLD --consistency-proof FILE\") to show "
        "that nothing logged before was removed or rewritten.",
    ]
    return [_p(f"{n}. {s}", st["base"]) for n, s in enumerate(steps, 1)]


def render_report(ev: OrderEvidence, *, generated_at: str, generated_by: str) -> bytes:
    """The evidence report of one order as PDF bytes. Raises ReportFontMissing."""
    body, mono = register_fonts()
    st = _styles(body, mono)
    out = BytesIO()
    title = f"Evidence report {ev.tenant}/{ev.order}"

    def decorate(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(body, 7)
        canvas.setFillColor(colors.HexColor("#5b6675"))
        canvas.drawString(MARGIN, 10 * mm,
                          f"orderledger · {ev.tenant}/{ev.order} · bundle SHA-256 "
                          f"{ev.download.sha256[:16]}… · checkpoint {ev.download.checkpoint_size}")
        canvas.drawRightString(PAGE_W - MARGIN, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=MARGIN, bottomMargin=18 * mm, title=title,
                            author="orderledger", subject="Order evidence report",
                            creator="orderledger report")
    story: list[Any] = [
        _p("Evidence report · 证据报告", st["title"]),
        _p(f"Order {ev.order} of tenant {ev.tenant}", st["base"]),
        Spacer(1, 6),
        *_summary(ev, st, generated_at, generated_by),
        Paragraph("Accompanying bundle", st["h2"]),
        _p(f"File {ev.download.filename()}, {len(ev.download.data)} bytes, SHA-256:",
           st["base"]),
        _p(ev.download.sha256, st["mono"]),
        _p("The bundle (evidence-format §6) holds every record of the order with its "
           "signature, payload, salt and inclusion proof, the keys, the state catalogue and "
           "the checkpoint. Downloading it again under the same checkpoint gives the same "
           "bytes.", st["small"]),
        Paragraph("Timeline", st["h2"]),
        *_timeline(ev, st),
        Paragraph("Verification results", st["h2"]),
        *_verification(ev, st),
        Paragraph("Keys: fingerprints and validity intervals", st["h2"]),
        *_keys(ev, st),
        KeepTogether([Paragraph("Checkpoint (C2SP signed note, exact text)", st["h2"]),
                      _preformatted(str(ev.download.bundle["checkpoint"]), mono)]),
        Paragraph("How to verify this evidence independently", st["h2"]),
        *_instructions(ev, st),
    ]
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()
