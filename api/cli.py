"""The `orderledger` command line.

Every command reads its settings from the environment (ledger.settings), prints results on
stdout, and on bad input prints ONE line on stderr and exits non-zero:
  0 success, 1 the check failed (audit / verify found problems), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from api import (
    commands_alerts,
    commands_apikeys,
    commands_evidence,
    commands_ledger,
    commands_model,
    commands_report,
    commands_retention,
    commands_sla,
)
from ledger.verify import MalformedBundle
from statemodel.errors import OrderledgerError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line usage: reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (not the usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


Handler = Callable[[argparse.Namespace, TextIO], int]


def _positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (argparse reports the message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="orderledger", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    model = sub.add_parser("model", help="the state catalogue")
    model_sub = model.add_subparsers(dest="action", required=True, parser_class=_Parser)
    model_sub.add_parser("show", help="states and sub-states as a table").set_defaults(
        handler=commands_model.model_show
    )
    exp = model_sub.add_parser("export", help="catalogue JSON with its digest")
    exp.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    exp.set_defaults(handler=commands_model.model_export)
    model_sub.add_parser("diagram", help="Mermaid stateDiagram-v2").set_defaults(
        handler=commands_model.model_diagram
    )
    doc = model_sub.add_parser("doc", help="docs/state-model.md (diagram and tables)")
    doc.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    doc.set_defaults(handler=commands_model.model_doc)

    registry = sub.add_parser("registry", help="the ISO/IEC 11179 metadata registry")
    reg_sub = registry.add_subparsers(dest="action", required=True, parser_class=_Parser)
    reg_exp = reg_sub.add_parser("export", help="export every administered item")
    reg_exp.add_argument("--format", choices=("json", "csv"), default="json")
    reg_exp.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    reg_exp.set_defaults(handler=commands_model.registry_export)

    keys = sub.add_parser("keys", help="signing keys and the log key")
    keys_sub = keys.add_subparsers(dest="action", required=True, parser_class=_Parser)
    keys_sub.add_parser("list", help="published keys with their intervals").set_defaults(
        handler=commands_ledger.keys_list
    )
    keys_sub.add_parser("rotate", help="a new record signing key signs from now on").set_defaults(
        handler=commands_ledger.keys_rotate
    )
    keys_exp = keys_sub.add_parser("export", help="the trust set of evidence-format §7")
    keys_exp.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    keys_exp.set_defaults(handler=commands_ledger.keys_export)

    demo = sub.add_parser("demo", help="load realistic demo orders through whole lifecycles")
    demo.set_defaults(handler=commands_ledger.demo)

    export = sub.add_parser("export", help="proof bundle of one order (evidence-format §6)")
    export.add_argument("--tenant", required=True)
    export.add_argument("--order", required=True)
    export.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    export.set_defaults(handler=commands_evidence.export)

    verify = sub.add_parser(
        "verify", help="verify a bundle offline: exit 0 ok, 1 failed, 2 unreadable"
    )
    verify.add_argument("bundle", type=Path)
    verify.add_argument("--trust", type=Path, help="trust set from `orderledger keys export`")
    verify.add_argument("--checkpoint", type=Path, help="an older checkpoint you kept")
    verify.add_argument(
        "--consistency-proof",
        type=Path,
        help='JSON {"old_size", "new_size", "proof"} from the older checkpoint',
    )
    verify.set_defaults(handler=commands_evidence.verify)

    checkpoint = sub.add_parser(
        "checkpoint", help="integrate what is queued, print the newest signed checkpoint"
    )
    checkpoint.add_argument("--size", type=int, help="the stored checkpoint of this tree size")
    checkpoint.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    checkpoint.set_defaults(handler=commands_evidence.checkpoint)

    proof = sub.add_parser("proof", help="Merkle log proofs on demand (JSON)")
    proof_sub = proof.add_subparsers(dest="action", required=True, parser_class=_Parser)
    inclusion = proof_sub.add_parser(
        "inclusion", help="a record (or leaf) is in the tree of a signed checkpoint"
    )
    inclusion.add_argument("--tenant")
    inclusion.add_argument("--order")
    inclusion.add_argument("--seq", type=int)
    inclusion.add_argument("--leaf-index", type=int, help="instead of tenant/order/seq")
    inclusion.add_argument("--size", type=int, help="checkpoint tree size (default: newest)")
    inclusion.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    inclusion.set_defaults(handler=commands_evidence.proof_inclusion)
    consistency = proof_sub.add_parser(
        "consistency", help='{"old_size", "new_size", "proof"} for verify --consistency-proof'
    )
    consistency.add_argument("--old", type=int, required=True, help="tree size you kept")
    consistency.add_argument("--new", type=int, help="newer tree size (default: newest)")
    consistency.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    consistency.set_defaults(handler=commands_evidence.proof_consistency)

    compliance = sub.add_parser("compliance", help="regulation compliance")
    comp_sub = compliance.add_subparsers(dest="action", required=True, parser_class=_Parser)
    report = comp_sub.add_parser("report", help="completeness and findings per tenant")
    report.add_argument("--tenant")
    report.add_argument("--since", help="RFC 3339 time or date (YYYY-MM-DD, UTC)")
    report.add_argument("--format", choices=("table", "json"), default="table")
    report.set_defaults(handler=commands_ledger.compliance_report)

    rules = sub.add_parser("rules", help="regulation packs")
    rules_sub = rules.add_subparsers(dest="action", required=True, parser_class=_Parser)
    rules_sub.add_parser("show", help="every rule with its citation and severity").set_defaults(
        handler=commands_model.rules_show
    )

    serve = sub.add_parser("serve", help="the HTTP API (uvicorn); prints demo keys on first start")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info",
                       choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--workers", type=_positive_int, default=1,
                       help="API worker processes (default 1; one process appends on one "
                       "core at a time)")
    serve.set_defaults(handler=commands_apikeys.serve)

    apikeys = sub.add_parser("apikeys", help="API keys: create, list, revoke")
    apikeys_sub = apikeys.add_subparsers(dest="action", required=True, parser_class=_Parser)
    ak_create = apikeys_sub.add_parser("create", help="issue a key; its token is shown once")
    ak_create.add_argument("--name", required=True, help="also the actor id of its records")
    ak_create.add_argument("--role", required=True,
                           choices=("platform", "carrier", "auditor", "legal", "admin"))
    ak_create.add_argument("--tenant", help="required for platform and carrier; omit: all")
    ak_create.set_defaults(handler=commands_apikeys.apikeys_create)
    apikeys_sub.add_parser("list", help="every key, never a token").set_defaults(
        handler=commands_apikeys.apikeys_list
    )
    ak_revoke = apikeys_sub.add_parser("revoke", help="revoke a key by name")
    ak_revoke.add_argument("name")
    ak_revoke.set_defaults(handler=commands_apikeys.apikeys_revoke)

    commands_sla.register(sub, _Parser)
    commands_alerts.register(sub, _Parser)
    commands_retention.register(sub, _Parser)

    report = sub.add_parser("report", help="legal evidence report (PDF) and its bundle")
    report.add_argument("--tenant", required=True)
    report.add_argument("--order", required=True)
    report.add_argument("-o", "--output", type=Path, required=True, help="the PDF to write")
    report.add_argument("--bundle", type=Path, default=None,
                        help="where the bundle goes (default: next to the PDF)")
    report.set_defaults(handler=commands_report.report)

    audit = sub.add_parser("audit", help="check every chain, signature and payload")
    audit.add_argument("--quiet", action="store_true", help="no progress on stderr")
    audit.set_defaults(handler=commands_ledger.audit)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
        handler: Handler = args.handler
        return handler(args, out)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except (commands_evidence.InputUnreadable, MalformedBundle) as exc:
        print(f"orderledger: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OrderledgerError as exc:
        print(f"orderledger: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `orderledger ... | head`: the reader left, nothing to report
        sys.stderr.close()
        return EXIT_OK
    except OSError as exc:
        print(
            f"orderledger: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return EXIT_USAGE
    except json.JSONDecodeError as exc:
        print(f"orderledger: error: malformed JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
