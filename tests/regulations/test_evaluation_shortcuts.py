"""The second round of shortcuts in judging a record change no result either.

`Pack.evaluate` follows a per-edge plan that calls plain checks directly and skips a
check whose `keys` the payload does not hold; the actionable checks classify payload
keys and leaves once per key (set); the identity-number search skips texts with too
few digits; `parse_instant` looks for the time designator without upper-casing; the
facts copy their fields through the instance dict. Each is pinned against the plain
computation it replaces (written out here as it was), over the rule cases and the
corpus of test_evaluation_cache and generated data.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, fields, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regulations import cn_actionable
from regulations.cn_actionable import (
    ESTIMATE_DATE_FIELDS,
    ESTIMATE_FIELDS,
    MIN_WAYBILL_DIGITS,
    PLACEHOLDERS,
    PROVINCE_PREFIXES,
    WINDOW_PAIRS,
    admin_codes_plausible,
    carrier_and_waybill_plausible,
    estimates_after_event,
    no_full_names,
)
from regulations.cn_lifecycle import EXCURSION_KEYS
from regulations.facts import OrderFacts
from regulations.model import Check, Finding, Pack, Severity, Verdict, Violation
from regulations.pii import is_person_name_key, looks_like_full_name
from regulations.proposal import Proposal
from regulations.values import (
    CHINA_TIME,
    _has_time_designator,
    parse_calendar_date,
    parse_instant,
)
from tests.regulations.lifecycle import case, propose
from tests.regulations.test_evaluation_cache import CORPUS, PACK, document, fresh

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def reference_evaluate(pack: Pack, proposal: Proposal, facts: OrderFacts) -> Verdict:
    """`Pack.evaluate` as it was: every rule through `Rule.evaluate`, no plan."""
    blocks: list[Finding] = []
    flags: list[Finding] = []
    for rule in pack.rules:
        for finding in rule.evaluate(proposal, facts):
            (blocks if finding.severity is Severity.BLOCK else flags).append(finding)
    return Verdict(blocks, flags)


def test_the_plan_gives_the_verdict_of_every_rule_evaluated_in_turn() -> None:
    for proposal, facts in CORPUS:
        assert document(PACK.evaluate(fresh(proposal), facts)) == document(
            reference_evaluate(PACK, fresh(proposal), facts)), (proposal.event, proposal.to_state)


def test_a_check_with_keys_finds_and_raises_nothing_without_them() -> None:
    gated = [rule for rule in PACK.rules
             if isinstance(rule.policy, Check) and rule.policy.keys is not None]
    assert {rule.rule_id for rule in gated} == {"CN-COLDCHAIN-001", "CN-COLDCHAIN-002"}
    stripped = 0
    for rule in gated:
        assert isinstance(rule.policy, Check)
        assert rule.policy.keys is not None
        keys = rule.policy.keys
        for proposal, facts in CORPUS:
            without = {k: v for k, v in proposal.payload.items() if k not in keys}
            stripped += len(without) < len(proposal.payload)
            assert list(rule.policy.function(replace(proposal, payload=without), facts)) == []
    assert stripped > 2  # the corpus does hold records with those keys


@pytest.mark.parametrize(("name", "payload", "blocked"), [
    ("unreadable declared range still blocks", {"required_min_c": 10**400,
                                                "required_max_c": 8}, 2),
    ("excursion beyond the threshold", {"observed_min_c": 1, "observed_max_c": 12,
                                        "required_range_c": [2, 8],
                                        "excursion_minutes": 45}, 1),
    ("no cold-chain key at all", {"scan_type": "arrival"}, 0),
])
def test_the_cold_chain_keys_gate(name: str, payload: dict[str, Any], blocked: int) -> None:
    proposal = propose("hub_scan", "M05.02", AT, payload, to_state="M05.02")
    verdict = PACK.evaluate(proposal, OrderFacts.initial())
    cold = [f for f in verdict.blocks if f.rule_id.startswith("CN-COLDCHAIN")]
    assert len(cold) == blocked, name
    assert document(verdict) == document(reference_evaluate(PACK, fresh(proposal),
                                                            OrderFacts.initial()))


def old_estimates_after_event(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """`estimates_after_event` as it was, before the key classification was remembered."""
    event_time = proposal.event_time
    event_day = event_time.astimezone(CHINA_TIME).date()
    payload = proposal.payload
    for key, value in payload.items():
        if key in ESTIMATE_FIELDS or key.startswith("expected_"):
            path = f"payload.{key}"
            moment = parse_instant(value)
            if moment is None:
                yield Violation(path, f"expected time {value!r} is not an RFC 3339 time "
                                "with an offset")
            elif moment <= event_time:
                yield Violation(path, f"expected time {value} is not after the event time "
                                f"{event_time.isoformat()}")
        elif key in ESTIMATE_DATE_FIELDS:
            path = f"payload.{key}"
            day = parse_calendar_date(value)
            if day is None:
                yield Violation(path, f"expected date {value!r} is not a YYYY-MM-DD date")
            elif day < event_day:
                yield Violation(path, f"expected date {day} is before the event's date "
                                f"{event_day} (China time)")
    for start_key, end_key in WINDOW_PAIRS:
        start = parse_instant(payload.get(start_key))
        end = parse_instant(payload.get(end_key))
        if start is not None and end is not None and start >= end:
            yield Violation(f"payload.{end_key}", f"window ends ({end.isoformat()}) before "
                            f"it starts ({start.isoformat()}, {start_key})")


def outcome(check: Any, proposal: Proposal, facts: OrderFacts) -> object:
    """The violations of a check, or the error it raised."""
    try:
        return list(check(proposal, facts))
    except Exception as exc:  # compared, not hidden
        return f"{type(exc).__name__}: {exc}"


estimate_keys = st.sampled_from(
    [*sorted(ESTIMATE_FIELDS), *sorted(ESTIMATE_DATE_FIELDS), "expected_x_at", "expected_",
     "pickup_window_start_at", "delivery_window_start_at", "scanned_at", "hub_name"])
estimate_values = st.sampled_from(
    ["2026-03-02T03:00:00Z", "2026-03-02T01:00:00+08:00", "2026-03-01", "2026-03-03",
     "garbage", "0001-01-01T00:00:00+01:00", None, 5, "2026-03-02t04:00:00z"])


@settings(max_examples=150, deadline=None)
@given(payload=st.dictionaries(estimate_keys | st.integers(0, 3), estimate_values,
                               max_size=6))
def test_estimates_after_event_as_it_was(payload: dict[Any, Any]) -> None:
    proposal = propose("hub_scan", "M05.02", AT, payload, to_state="M05.02")
    facts = OrderFacts.initial()
    assert outcome(estimates_after_event, proposal, facts) == outcome(
        old_estimates_after_event, fresh(proposal), facts)


def old_leaf_checks(proposal: Proposal) -> list[list[Violation]]:
    """What the admin-code, carrier/waybill and name checks found when each walked the
    leaves itself (written out as it was), against `_keyed_leaves`, which now walks them
    once for all three."""
    coded = [leaf for leaf in proposal.leaves
             if leaf[1] is not None and leaf[1].endswith(("admin_code", "carrier_code",
                                                          "waybill_no"))]
    admin: list[Violation] = []
    carriers: list[Violation] = []
    for path, key, value in coded:
        assert key is not None
        if key.endswith("admin_code"):
            text = value if isinstance(value, str) else repr(value)
            if not re.match(r"^\d{6}$", text):
                admin.append(Violation(path, f"GB/T 2260 administrative code must be six "
                                       f"digits, got {text!r}"))
            elif text[:2] not in PROVINCE_PREFIXES:
                admin.append(Violation(path, f"GB/T 2260 code {text} has no province-level "
                                       f"prefix {text[:2]}"))
        if key.endswith("carrier_code"):
            if not isinstance(value, str) or not re.match(r"^[a-z][a-z0-9_]{1,31}$", value):
                carriers.append(Violation(path, f"carrier code must be a lower-case code "
                                          f"such as sf, zto, jd, got {value!r}"))
            elif value in PLACEHOLDERS:
                carriers.append(Violation(path, f"carrier code {value!r} is a placeholder, "
                                          "not a carrier"))
        elif key.endswith("waybill_no"):
            if not isinstance(value, str) or not re.match(r"^[A-Z0-9]{8,32}$", value):
                carriers.append(Violation(path, f"waybill number must be 8-32 upper-case "
                                          f"letters and digits, got {value!r}"))
            elif sum(map(str.isdigit, value)) < MIN_WAYBILL_DIGITS:
                carriers.append(Violation(path, f"waybill number {value} has fewer than "
                                          f"{MIN_WAYBILL_DIGITS} digits"))
            elif len(set(value)) == 1:
                carriers.append(Violation(path, f"waybill number {value} repeats one "
                                          "character"))
    names = [Violation(path, "holds an unmasked personal name; mask it (张**) or "
                       "replace it with a pseudonym")
             for path, key, value in proposal.leaves
             if isinstance(value, str) and key is not None and is_person_name_key(key)
             and looks_like_full_name(value)]
    return [admin, carriers, names]


leaf_keys = st.sampled_from(["hub_admin_code", "carrier_code", "waybill_no", "proxy_name",
                             "recipient_name", "hub_name", "name", "note", "sender"])
leaf_values = st.sampled_from(["张三", "张*", "310112", "990112", "99x", "sf", "unknown",
                               "SF1234567890123", "SFAAAAAAAAA", "11111111", "John Smith",
                               7, None, True])
nested = st.recursive(leaf_values, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(leaf_keys, inner, max_size=3), max_leaves=8)


@settings(max_examples=120, deadline=None)
@given(payload=st.dictionaries(leaf_keys, nested, max_size=5))
def test_one_leaf_pass_serves_the_coded_and_name_checks(payload: dict[str, Any]) -> None:
    proposal = propose("hub_scan", "M05.02", AT, payload, to_state="M05.02")
    facts = OrderFacts.initial()
    found = [list(check(proposal, facts)) for check in
             (admin_codes_plausible, carrier_and_waybill_plausible, no_full_names)]
    assert found == old_leaf_checks(fresh(proposal))


identity_texts = st.text(alphabet="0123456789Xx -\n:T+١٢٣", max_size=40) | st.sampled_from(
    ["11010519491231002X", "a11010519491231002Xb", "2026-03-02T21:15:00+08:00",
     "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "1101051949123100-2X"])


@settings(max_examples=200, deadline=None)
@given(text=identity_texts)
def test_too_few_digits_never_hides_an_identity_number(text: str) -> None:
    pattern = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{16}[0-9Xx])(?![0-9A-Za-z])")
    if pattern.search(text):
        assert cn_actionable._enough_digits_for_an_id(text)


def test_the_time_designator_test_is_the_upper_case_one() -> None:
    # Every code point, alone and next to ASCII text: exactly where "T" in upper() is.
    chars = map(chr, range(sys.maxunicode + 1))
    differ = [c for c in chars if not "\ud800" <= c <= "\udfff"
              and ("T" in c.upper()) != _has_time_designator(c)]
    assert differ == []
    for text in ("2026-03-02 10:00", "2026-03-02t10:00z", "ﬆ2026", "2026-03-02T10:00Z"):
        assert _has_time_designator(text) == ("T" in text.upper())


def test_folded_facts_hold_their_fields_in_order_and_compare_as_built() -> None:
    names = [spec.name for spec in fields(OrderFacts)]
    for proposal, facts in CORPUS[:200]:
        advanced = facts.advance(fresh(proposal))
        assert list(vars(advanced)) == names
        rebuilt = OrderFacts(**vars(advanced))
        assert rebuilt == advanced
        assert hash(rebuilt) == hash(advanced)
        assert OrderFacts.from_json(advanced.to_json()) == advanced


class Richer(OrderFacts):
    """A subclass: the fold still answers plain OrderFacts, read field by field."""


def test_a_subclass_folds_into_plain_facts() -> None:
    proposal, _facts = case("M05.02")
    richer = Richer(records=3, current_state="M05.01")
    advanced = richer.advance(proposal)
    assert type(advanced) is OrderFacts
    assert advanced == OrderFacts(records=3, current_state="M05.01").advance(proposal)
    again = Richer.from_json(advanced.to_json())
    assert type(again) is Richer
    assert again.to_json() == advanced.to_json()


@pytest.mark.parametrize(("name", "document", "error"), [
    ("first bad time in document order", {"paid_at": "bad", "placed_at": "worse"},
     "order facts paid_at: not an RFC 3339 time: 'bad'"),
    ("bad time after a good one", {"placed_at": "2026-03-02T02:00:00Z", "closed_at": 5},
     "order facts closed_at: not an RFC 3339 time: 5"),
    ("unknown field", {"placed": 1}, "unknown order-facts fields: ['placed']"),
])
def test_from_json_refuses_as_it_always_did(name: str, document: dict[str, Any],
                                            error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        OrderFacts.from_json(document)


def test_from_json_errors_of_other_types_are_kept() -> None:
    with pytest.raises(TypeError):
        OrderFacts.from_json({"states_visited": None})
    with pytest.raises(OverflowError):
        OrderFacts.from_json({"placed_at": "0001-01-01T00:00:00+01:00"})
    assert OrderFacts.from_json({"cold_chain_range_c": [1, 2], "records": 2}) == OrderFacts(
        records=2, cold_chain_range_c=(1.0, 2.0))


def test_excursion_keys_name_what_the_cold_chain_checks_read() -> None:
    # A record that reports a reading outside a known range is never skipped.
    assert {"observed_min_c", "observed_max_c"} <= EXCURSION_KEYS
    scan, _facts = case("M05.02")
    proposal = replace(scan, payload={**scan.payload, "observed_max_c": 30,
                                      "excursion_minutes": 90})
    facts = replace(OrderFacts.initial(), cold_chain_range_c=(2.0, 8.0))
    assert [f.rule_id for f in PACK.evaluate(proposal, facts).blocks] == ["CN-COLDCHAIN-001"]
    assert PACK.evaluate(scan, facts).blocks == []


def test_a_proposal_is_built_as_the_generated_init_built_it() -> None:
    scan, _facts = case("M05.02")
    values = [getattr(scan, spec.name) for spec in fields(Proposal) if spec.init]
    positional = Proposal(*values)
    assert positional == scan
    assert list(vars(positional)) == [spec.name for spec in fields(Proposal)]
    assert positional.leaves == scan.leaves
    bare = Proposal("note", "noted", "M05.02", "M05.02", AT, AT, scan.catalogue)
    assert (dict(bare.payload), bare.actor_type, bare.actor_id, bare.leaves) == (
        {}, "system", "", ())
    with pytest.raises(TypeError, match=r"Proposal.__init__\(\) missing 1 required"):
        Proposal("note", "noted", "M05.02", "M05.02", AT, AT)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Proposal("note", "noted", "M05.02", "M05.02", AT, AT, scan.catalogue,
                 None)  # type: ignore[arg-type]
    with pytest.raises(FrozenInstanceError):
        scan.kind = "note"  # type: ignore[misc]
