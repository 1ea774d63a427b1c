"""Policies, rules and packs: combination, failing closed, findings and verdicts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from regulations.citation import Citation, CitationStatus
from regulations.errors import EmptyPolicy, RegulationError, RuleViolation
from regulations.facts import OrderFacts
from regulations.model import (
    AllOf,
    AnyOf,
    Check,
    Not,
    Pack,
    Policy,
    Predicate,
    Rule,
    Severity,
    Verdict,
    Violation,
    When,
    holds,
)
from regulations.pack import PackId
from regulations.proposal import Proposal
from regulations.registry import get_pack
from statemodel.errors import InvalidInput
from tests.regulations.lifecycle import case

CITATION = Citation("消费者权益保护法", "§25")
PROPOSAL, FACTS = case("M05.02")
RETENTION = get_pack("cn-fulfilment-2026@1.0.0").retention_policy()
START = datetime(2026, 1, 1, tzinfo=UTC)

PASS = Predicate(lambda p, f: True, field="a", message="never")
FAIL_A = Predicate(lambda p, f: False, field="a", message="a is wrong")
FAIL_B = Predicate(lambda p, f: False, field="b", message="b is wrong")


def fields(policy: Policy) -> list[str]:
    return [violation.field for violation in policy.check(PROPOSAL, FACTS)]


@pytest.mark.parametrize(
    ("name", "policy", "expected"),
    [
        ("predicate holds", PASS, []),
        ("predicate fails", FAIL_A, ["a"]),
        ("all of, all hold", AllOf(PASS, PASS), []),
        ("all of reports every failure", AllOf(FAIL_A, PASS, FAIL_B), ["a", "b"]),
        ("any of, one holds", AnyOf(FAIL_A, PASS), []),
        ("any of, none holds", AnyOf(FAIL_A, FAIL_B), ["a", "b"]),
        ("not of a failing policy holds", Not(FAIL_A, field="n", message="m"), []),
        ("not of a holding policy fails", Not(PASS, field="n", message="m"), ["n"]),
        ("when, condition holds", When(PASS, FAIL_B), ["b"]),
        ("when, condition fails", When(FAIL_A, FAIL_B), []),
        ("when with holds()", When(holds(lambda p, f: p.to_state == "M05.02"), FAIL_B), ["b"]),
        ("check yields its violations",
         Check(lambda p, f: [Violation("x", "1"), Violation("y", "2")]), ["x", "y"]),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_combinators(name: str, policy: Policy, expected: list[str]) -> None:
    assert fields(policy) == expected


@pytest.mark.parametrize("combinator", [AllOf, AnyOf], ids=["AllOf", "AnyOf"])
def test_empty_combinator_fails_closed(combinator: type[AllOf] | type[AnyOf]) -> None:
    with pytest.raises(EmptyPolicy, match="fails closed"):
        combinator()


def rule(policy: Policy, severity: Severity = Severity.BLOCK, rule_id: str = "CN-TEST-001") -> Rule:
    return Rule(rule_id, "测试", "Test", CITATION, severity, policy, "because")


def pack(*rules: Rule, start: datetime = START, until: datetime | None = None) -> Pack:
    return Pack(PackId("test", "1.0.0"), start, until, rules, RETENTION)


def test_empty_pack_fails_closed() -> None:
    with pytest.raises(EmptyPolicy, match="no rules"):
        pack()


def test_pack_emptied_after_construction_still_fails_closed() -> None:
    built = pack(rule(PASS))
    object.__setattr__(built, "rules", ())
    with pytest.raises(EmptyPolicy):
        built.evaluate(PROPOSAL, FACTS)


@pytest.mark.parametrize(
    ("name", "build", "message"),
    [
        ("duplicate rule ids", lambda: pack(rule(PASS), rule(FAIL_A)), "repeats rule ids"),
        ("ends before it starts", lambda: pack(rule(PASS), until=START - timedelta(days=1)),
         "ends before it starts"),
        ("bad rule id", lambda: rule(PASS, rule_id="rule-1"), "not of the form"),
        ("missing title", lambda: Rule("CN-TEST-001", " ", "Test", CITATION, Severity.FLAG, PASS,
                                       "why"), "English title"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_malformed_packs_and_rules_are_refused(name: str, build: object, message: str) -> None:
    assert callable(build)
    with pytest.raises(RegulationError, match=message):
        build()


def test_naive_effective_date_is_refused() -> None:
    with pytest.raises(InvalidInput, match="effective_from"):
        pack(rule(PASS), start=datetime(2026, 1, 1))


def test_finding_names_rule_citation_and_field() -> None:
    findings = rule(FAIL_A, Severity.FLAG).evaluate(PROPOSAL, FACTS)
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule_id == "CN-TEST-001"
    assert finding.severity is Severity.FLAG
    assert finding.citation == "消费者权益保护法 §25"
    assert finding.field == "a"
    assert finding.message == "CN-TEST-001 (消费者权益保护法 §25): a: a is wrong"
    assert finding.to_json()["severity"] == "flag"


def test_a_crashing_check_blocks_whatever_its_severity() -> None:
    def broken(proposal: Proposal, facts: OrderFacts) -> list[Violation]:
        raise ZeroDivisionError("boom")

    findings = rule(Check(broken), Severity.FLAG).evaluate(PROPOSAL, FACTS)
    assert [f.severity for f in findings] == [Severity.BLOCK]
    assert "could not be evaluated" in findings[0].message
    assert "ZeroDivisionError" in findings[0].message


def test_verdict_splits_blocks_and_flags_in_rule_order() -> None:
    judged = pack(
        rule(FAIL_A, Severity.FLAG, "CN-TEST-001"),
        rule(FAIL_B, Severity.BLOCK, "CN-TEST-002"),
        rule(PASS, Severity.BLOCK, "CN-TEST-003"),
    ).evaluate(PROPOSAL, FACTS)
    assert [f.rule_id for f in judged.blocks] == ["CN-TEST-002"]
    assert [f.rule_id for f in judged.flags] == ["CN-TEST-001"]
    assert judged.blocked


def test_raise_for_blocks() -> None:
    Verdict(flags=rule(FAIL_A, Severity.FLAG).evaluate(PROPOSAL, FACTS)).raise_for_blocks()
    blocked = Verdict(blocks=rule(FAIL_B).evaluate(PROPOSAL, FACTS))
    with pytest.raises(RuleViolation) as caught:
        blocked.raise_for_blocks()
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.field == "b"
    assert caught.value.rule_id == "CN-TEST-001"
    assert "b is wrong" in caught.value.message


def test_in_force_interval_is_half_open() -> None:
    until = START + timedelta(days=30)
    judged = pack(rule(PASS), until=until)
    assert judged.in_force(START)
    assert judged.in_force(until - timedelta(microseconds=1))
    assert not judged.in_force(until)
    assert not judged.in_force(START - timedelta(microseconds=1))


def test_proposal_refuses_naive_times_and_freezes_payload() -> None:
    with pytest.raises(InvalidInput, match="event_time"):
        replace(PROPOSAL, event_time=datetime(2026, 3, 2))
    source = {"note": "x"}
    proposal = replace(PROPOSAL, payload=source)
    source["note"] = "changed"
    assert proposal.payload["note"] == "x"
    with pytest.raises(TypeError):
        proposal.payload["note"] = "y"  # type: ignore[index]


def test_citation_text_and_status() -> None:
    assert str(CITATION) == "消费者权益保护法 §25"
    assert CITATION.status is CitationStatus.VERIFIED
