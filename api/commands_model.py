"""CLI commands over the state catalogue and the metadata registry (no database)."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from api.output import emit
from regulations.registry import all_packs
from statemodel.catalogue import load_catalogue
from statemodel.registry import export_csv, export_json, load_registry
from statemodel.render import render_mermaid, render_state_model_doc, render_table


def model_show(args: argparse.Namespace, out: TextIO) -> int:
    cat = load_catalogue()
    out.write(f"{cat.document['title']} — version {cat.version}\n{cat.digest}\n\n")
    out.write(render_table(cat))
    return 0


def model_export(args: argparse.Namespace, out: TextIO) -> int:
    cat = load_catalogue()
    text = json.dumps(
        {"digest": cat.digest, "catalogue": cat.document}, ensure_ascii=False, indent=2
    )
    emit(text, args.output, out)
    return 0


def model_diagram(args: argparse.Namespace, out: TextIO) -> int:
    emit(render_mermaid(load_catalogue()), None, out)
    return 0


def model_doc(args: argparse.Namespace, out: TextIO) -> int:
    emit(render_state_model_doc(load_catalogue()), args.output, out)
    return 0


def registry_export(args: argparse.Namespace, out: TextIO) -> int:
    registry = load_registry()
    text = export_csv(registry) if args.format == "csv" else export_json(registry)
    emit(text, args.output, out)
    return 0


def rules_show(args: argparse.Namespace, out: TextIO) -> int:
    for pack in all_packs():
        until = pack.effective_until.isoformat() if pack.effective_until else "open"
        out.write(f"{pack}  in force {pack.effective_from.isoformat()} – {until}\n")
        for rule in pack.rules:
            out.write(
                f"  {rule.rule_id:<22} {rule.severity.value:<5} {rule.citation}\n"
                f"  {'':<22} {rule.title_en}\n"
            )
        out.write("\n")
    return 0
