"""The packaged catalogue: its shape, its typed view and the stability of its digest."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from statemodel.canonical import document_digest
from statemodel.catalogue import (
    DEFAULT_CATALOGUE_PATH,
    catalogue_from_document,
    load_catalogue,
)
from statemodel.sla import DeadlineRule

REPO = Path(__file__).resolve().parents[2]
Doc = dict[str, Any]


def _sub(doc: Doc, code: str) -> Doc:
    return next(s for s in doc["sub_states"] if s["code"] == code)


def test_exactly_12_main_and_41_sub_states() -> None:
    cat = load_catalogue()
    assert list(cat.main_states) == [f"M{i:02d}" for i in range(1, 13)]
    assert len(cat.sub_states) == 41
    per_main = dict.fromkeys(cat.main_states, 0)
    for sub in cat.sub_states.values():
        per_main[sub.main] += 1
    assert per_main == {"M01": 2, "M02": 3, "M03": 3, "M04": 3, "M05": 3, "M06": 4,
                        "M07": 4, "M08": 3, "M09": 6, "M10": 4, "M11": 3, "M12": 3}


def test_every_sub_state_is_actionable() -> None:
    cat = load_catalogue()
    for sub in cat.sub_states.values():
        assert sub.required_fields, sub.code
        assert sub.action.code
        assert sub.action.description_zh
        assert sub.action.description_en
        assert sub.responsible, sub.code
        assert set(sub.responsible) <= set(cat.responsible_parties), sub.code
        assert sub.sources, sub.code


def test_initial_and_final_sub_states() -> None:
    cat = load_catalogue()
    assert sorted(c for c, s in cat.sub_states.items() if s.initial) == ["M01.01", "M01.02",
                                                                        "M02.01"]
    assert [c for c, s in cat.sub_states.items() if s.final] == ["M12.03"]
    assert {(c.event, c.to) for c in cat.creations} == {
        ("order_placed", "M01.01"), ("order_placed_paid", "M01.02"),
        ("cod_order_placed", "M02.01")}


def test_evidence_fields_have_the_exact_names_of_section_5() -> None:
    doc = load_catalogue().document
    for sub in doc["sub_states"]:
        assert isinstance(sub["code"], str)
        assert isinstance(sub["main"], str)
        assert isinstance(sub["initial"], bool)
        assert isinstance(sub["final"], bool)
    for transition in doc["transitions"]:
        assert transition["from"] == "*" or isinstance(transition["from"], list)
        assert {"event", "from", "to"} <= set(transition)


# The SLA timers the 2026 rules and DOMAIN.md call for: (sub-state, timer, rule).
REQUIRED_TIMERS = [
    ("payment deadline", "M01.01", "payment_deadline", "payload.payment_deadline_at"),
    ("ship-by promise", "M02.02", "ship_by", "payload.ship_by_at"),
    ("pickup window + grace", "M04.01", "pickup_window", "payload.pickup_window_end_at + 2h"),
    ("carrier EDD", "M05.01", "carrier_edd", "payload.edd_at"),
    ("weather recovery", "M09.01", "expected_recovery", "payload.expected_recovery_at"),
    ("facility fault", "M09.02", "expected_recovery", "payload.expected_recovery_at + 2h"),
    ("no-scan threshold", "M05.02", "no_scan", "payload.scanned_at + 48h"),
    ("customs documents", "M06.02", "customs_documents", "payload.submission_deadline_at"),
    ("locker hold", "M07.03", "locker_hold", "payload.hold_until"),
    ("7-day cooling-off", "M08.03", "cooling_off", "payload.signed_at + 7d"),
    ("refund 7 days after receipt", "M10.03", "refund_deadline", "payload.received_at + 7d"),
    ("repair ETA", "M11.02", "repair_eta", "payload.eta_at"),
]


@pytest.mark.parametrize(("sub_state", "timer", "rule"), [r[1:] for r in REQUIRED_TIMERS],
                         ids=[r[0] for r in REQUIRED_TIMERS])
def test_required_timers_are_declared(sub_state: str, timer: str, rule: str) -> None:
    timers = {t.name: t for t in load_catalogue().sub_states[sub_state].timers}
    assert timer in timers
    assert timers[timer].rule == DeadlineRule.parse(rule)


def test_typed_view_matches_document() -> None:
    cat = load_catalogue()
    doc = cat.document
    assert cat.id == doc["id"]
    assert cat.version == doc["version"]
    assert list(cat.sub_states) == [s["code"] for s in doc["sub_states"]]
    assert set(cat.events) == {e["name"] for e in doc["events"]}
    assert cat.sub_states["M09.02"].main == "M09"
    expanded = next(t for t in cat.transitions if t.from_any)
    assert expanded.event == "order_voided"
    assert set(expanded.from_states) == {c for c, s in cat.sub_states.items() if not s.final}


def test_document_is_a_copy_the_caller_cannot_corrupt() -> None:
    cat = load_catalogue()
    doc = cat.document
    doc["sub_states"][0]["name_en"] = "tampered"
    assert cat.document["sub_states"][0]["name_en"] == "Awaiting payment"
    assert document_digest(cat.document) == cat.digest


def test_default_catalogue_is_cached_and_explicit_path_is_not() -> None:
    assert load_catalogue() is load_catalogue()
    explicit = load_catalogue(DEFAULT_CATALOGUE_PATH)
    assert explicit is not load_catalogue()
    assert explicit.digest == load_catalogue().digest


def test_payload_schema_merges_common_fields() -> None:
    cat = load_catalogue()
    merged = cat.payload_schema("M05.02")
    assert {"source", "reason_code", "note", "hub_name"} <= set(merged["properties"])
    assert merged["required"] == list(cat.sub_states["M05.02"].required_fields)
    assert "source" not in cat.sub_states["M05.02"].payload_schema["properties"]


# ---------------------------------------------------------------- digest


def test_digest_is_sha256_of_canonical_document() -> None:
    cat = load_catalogue()
    assert cat.digest.startswith("sha256:")
    assert len(cat.digest) == 7 + 64
    assert cat.digest == document_digest(cat.document)


def test_digest_is_reproducible_across_processes_and_hash_seeds() -> None:
    code = "from statemodel.catalogue import load_catalogue; print(load_catalogue().digest)"
    digests = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                                capture_output=True, text=True, check=True)
        digests.add(result.stdout.strip())
    assert digests == {load_catalogue().digest}


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


def test_key_order_and_file_format_do_not_change_the_digest(tmp_path: Path) -> None:
    cat = load_catalogue()
    as_json = tmp_path / "catalogue.json"
    as_json.write_text(json.dumps(_reversed_keys(cat.document), indent=1), encoding="utf-8")
    as_flow_yaml = tmp_path / "catalogue.yaml"
    as_flow_yaml.write_text(
        yaml.safe_dump(cat.document, default_flow_style=True, allow_unicode=False, width=60),
        encoding="utf-8",
    )
    assert load_catalogue(as_json).digest == cat.digest
    assert load_catalogue(as_flow_yaml).digest == cat.digest


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """Mutation setting `sub_states.M01.01.name_en` style paths (codes select entries)."""
    def mutate(doc: Doc) -> None:
        node: Any = doc
        parts = path.split("/")
        for part in parts[:-1]:
            if isinstance(node, list):
                node = next(e for e in node if part in (e.get("code"), e.get("name")))
            else:
                node = node[part]
        node[parts[-1]] = value
    return mutate


def _finalise_cancelled(doc: Doc) -> None:
    _sub(doc, "M12.01")["final"] = True
    archive = next(t for t in doc["transitions"] if t["event"] == "order_archived")
    archive["from"] = ["M12.02"]


def _retarget_return_rejected(doc: Doc) -> None:
    transition = next(t for t in doc["transitions"]
                      if t["event"] == "return_rejected" and t["from"] == ["M10.01"])
    transition["to"] = "M12.02"


MEANING_CHANGES: list[tuple[str, Callable[[Doc], None]]] = [
    ("main state name", _set("main_states/M09/name_en", "Exceptions")),
    ("sub-state Chinese name", _set("sub_states/M09.02/name_zh", "设备故障")),
    ("final flag", _finalise_cancelled),
    ("transition target", _retarget_return_rejected),
    ("schema keyword", _set("sub_states/M01.01/payload/properties/amount_due/pattern",
                            "^[0-9]+$")),
    ("required field list", _set("sub_states/M07.03/payload/required",
                                 ["point_id", "point_type", "point_name", "pickup_code_hash",
                                  "consent_ref", "deposited_at"])),
    ("timer rule", _set("sub_states/M09.02/timers/expected_recovery/deadline",
                        "payload.expected_recovery_at + 3h")),
    ("timer warning", _set("sub_states/M07.03/timers/locker_hold/warn_before", ["12h"])),
    ("responsible party", _set("sub_states/M08.03/responsible", ["MERCHANT"])),
    ("event description", _set("events/hub_scan/description_en", "Scanned")),
    ("source citation", _set("sub_states/M08.03/sources", ["消费者权益保护法 §24"])),
    ("version", _set("version", "2026.2")),
]


@pytest.mark.parametrize("mutate", [m for _, m in MEANING_CHANGES],
                         ids=[name for name, _ in MEANING_CHANGES])
def test_any_change_of_meaning_changes_the_digest(mutate: Callable[[Doc], None]) -> None:
    original = load_catalogue()
    doc = copy.deepcopy(original.document)
    mutate(doc)
    assert doc != original.document
    assert catalogue_from_document(doc).digest != original.digest
