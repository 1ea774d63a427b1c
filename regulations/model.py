"""Rules as small combinable policy objects, and packs of them (sigstore-python's style).

A `Policy` looks at a `Proposal` and the order's `OrderFacts` and answers the list of
`Violation`s it finds (empty: it holds). Policies combine with `AllOf`, `AnyOf`, `Not`
and `When`; leaves are `Predicate` (one yes/no question) and `Check` (a function that
may name several fields). An `AllOf`/`AnyOf` without children and a pack without rules
cannot be built: they fail closed with `EmptyPolicy`.

A `Check` may carry a `Scope`: the transitions it can find anything in at all. Outside
its scope a check is not called (its function must answer nothing there anyway), so a
pack only runs, per record, the checks that can apply to its edge.

A `Rule` gives a policy its identity, citation and severity; a `Pack` is a versioned,
dated set of rules plus its retention minima. `Pack.evaluate` returns a `Verdict`:
`block` findings refuse the record, `flag` findings are stored beside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Protocol

from regulations.citation import Citation
from regulations.errors import EmptyPolicy, RegulationError, RuleViolation
from regulations.facts import OrderFacts
from regulations.pack import PackId
from regulations.proposal import TRANSITION, Proposal, require_aware
from regulations.retention import RetentionPolicy

_RULE_ID: Final = re.compile(r"^[A-Z]{2,4}-[A-Z0-9]+(?:-[A-Z0-9]+)*-\d{3}$")
#: The key under which `Pack._plan_for` keeps the rules its memo was computed for.
_RULES: Final = object()
#: How many edges `Pack._plan_for` remembers before it starts afresh.
_MAX_EDGES: Final = 4096


class Severity(StrEnum):
    BLOCK = "block"
    """The append is refused with a problem citing the rule."""
    FLAG = "flag"
    """The record is accepted; the finding is stored beside it and reported."""


@dataclass(frozen=True, slots=True)
class Violation:
    """What a policy found wrong: the field (dotted path) and why."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Finding:
    """A violation as a rule reports it. `message` names the rule, its citation and the field."""

    rule_id: str
    severity: Severity
    citation: str
    message: str
    field: str

    def to_json(self) -> dict[str, str]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "citation": self.citation,
            "message": self.message,
            "field": self.field,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """Every finding of one evaluation, split by severity."""

    blocks: list[Finding] = field(default_factory=list)
    flags: list[Finding] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """True when the record must not be appended."""
        return bool(self.blocks)

    def raise_for_blocks(self) -> None:
        """Raise RuleViolation (an InvalidInput naming the first field) when blocked."""
        if self.blocks:
            raise RuleViolation(list(self.blocks))


class Policy(Protocol):
    """Anything that can judge a proposal against an order's facts."""

    def check(self, proposal: Proposal, facts: OrderFacts) -> list[Violation]:
        """Every violation found; an empty list means the policy holds."""
        ...


Test = Callable[[Proposal, OrderFacts], bool]
CheckFunction = Callable[[Proposal, OrderFacts], Iterable[Violation]]


@dataclass(frozen=True, slots=True)
class Scope:
    """The records a check can find anything in: transitions, optionally only those
    entering `to_states`, leaving `from_states` or named by `events` (None: any).

    It reads only the record's kind and edge, never its payload or the facts, so a pack
    can decide it once per edge. A check function guards itself with the same scope
    (`if not SCOPE.covers(proposal): return`); the scope on its `Check` only lets the
    pack skip the call.
    """

    to_states: frozenset[str] | None = None
    from_states: frozenset[str] | None = None
    events: frozenset[str] | None = None

    def covers(self, proposal: Proposal) -> bool:
        """True when the check can find anything in `proposal`."""
        return (
            proposal.kind == TRANSITION  # `is_transition`, without the property call
            and (self.to_states is None or proposal.to_state in self.to_states)
            and (self.from_states is None or proposal.from_state in self.from_states)
            and (self.events is None or proposal.event in self.events)
        )


#: Every transition (and no other kind of record).
TRANSITIONS: Final = Scope()


class Predicate:
    """A leaf: holds when `test` answers True, else one violation of `field`."""

    __slots__ = ("field", "message", "test")

    def __init__(self, test: Test, *, field: str, message: str) -> None:
        self.test = test
        self.field = field
        self.message = message

    def check(self, proposal: Proposal, facts: OrderFacts) -> list[Violation]:
        return [] if self.test(proposal, facts) else [Violation(self.field, self.message)]


class Check:
    """A leaf whose function yields violations itself (one per offending field).

    With a `scope`, the function is only called for records the scope covers; it must
    answer nothing for the others (see `Scope`). With `keys`, it is only called for
    records whose payload holds at least one of these keys; for the others it must
    answer nothing and raise nothing (a test checks both promises of every pack check).
    """

    __slots__ = ("function", "keys", "scope")

    def __init__(self, function: CheckFunction, *, scope: Scope | None = None,
                 keys: frozenset[str] | None = None) -> None:
        self.function = function
        self.scope = scope
        self.keys = keys

    def check(self, proposal: Proposal, facts: OrderFacts) -> list[Violation]:
        if self.scope is not None and not self.scope.covers(proposal):
            return []
        if self.keys is not None and proposal.payload.keys().isdisjoint(self.keys):
            return []
        return list(self.function(proposal, facts))


class AllOf:
    """Holds when every child holds; reports the violations of all children.

    Raises EmptyPolicy when built without children: "all of nothing" must not pass.
    """

    __slots__ = ("children",)

    def __init__(self, *children: Policy) -> None:
        if not children:
            raise EmptyPolicy("AllOf needs at least one policy: an empty AllOf fails closed")
        self.children = children

    def check(self, proposal: Proposal, facts: OrderFacts) -> list[Violation]:
        return [found for child in self.children for found in child.check(proposal, facts)]


class AnyOf:
    """Holds when at least one child holds; otherwise reports every child's violations.

    Raises EmptyPolicy when built without children.
    """

    __slots__ = ("children",)

    def __init__(self, *children: Policy) -> None:
        if not children:
            raise EmptyPolicy("AnyOf needs at least one policy: an empty AnyOf fails closed")
        self.children = children

    def check(self, proposal: Proposal, facts: OrderFacts) -> list[Violation]:
        found: list[Violation] = []
        for child in self.children:
            violations = child.check(proposal, facts)
            if not violations:
                return []
            found.extend(violations)
        return found


class Not:
    """Holds when `policy` does not hold; otherwise one violation of `field`."""

    __slots__ = ("field", "message", "policy")

    def __init__(self, policy: Policy, *, field: str, message: str) -> None:
        self.policy = policy
        self.field = field
        self.message = message

    def check(self, proposal: Proposal, facts: OrderFacts) -> list[Violation]:
        if self.policy.check(proposal, facts):
            return []
        return [Violation(self.field, self.message)]


class When:
    """Applies `then` only where `condition` holds; elsewhere it holds trivially."""

    __slots__ = ("condition", "then")

    def __init__(self, condition: Policy, then: Policy) -> None:
        self.condition = condition
        self.then = then

    def check(self, proposal: Proposal, facts: OrderFacts) -> list[Violation]:
        if self.condition.check(proposal, facts):
            return []
        return self.then.check(proposal, facts)


def holds(test: Test) -> Predicate:
    """A condition for `When`: a predicate whose violation text is never shown."""
    return Predicate(test, field="", message="condition not met")


@dataclass(frozen=True, slots=True)
class Rule:
    """A policy with an identity, a citation and a severity.

    `rationale` says why the severity was chosen; docs/regulations.md repeats it.
    Raises RegulationError for a malformed id or empty titles.
    """

    rule_id: str
    title_zh: str
    title_en: str
    citation: Citation
    severity: Severity
    policy: Policy
    rationale: str

    def __post_init__(self) -> None:
        if not _RULE_ID.match(self.rule_id):
            raise RegulationError(f"rule id {self.rule_id!r} is not of the form CN-TOPIC-001")
        if not self.title_zh.strip() or not self.title_en.strip():
            raise RegulationError(f"rule {self.rule_id} needs a Chinese and an English title")

    def evaluate(self, proposal: Proposal, facts: OrderFacts) -> list[Finding]:
        """The rule's findings for this proposal; empty when it holds.

        A check that raises fails closed: the error becomes a `block` finding naming
        the rule, whatever the rule's own severity, because an unjudged record must not
        pass as a judged one.
        """
        try:
            violations = self.policy.check(proposal, facts)
        except Exception as exc:  # a broken check must block, not crash or pass
            return [self._failure(exc)]
        if not violations:  # the usual answer: build nothing
            return []
        return [self._finding(self.severity, violation) for violation in violations]

    def _failure(self, exc: Exception) -> Finding:
        # What `evaluate` (and `Pack.evaluate`) report for a check that raised.
        return self._finding(Severity.BLOCK, Violation("", f"rule could not be "
                             f"evaluated ({type(exc).__name__}: {exc})"))

    def _finding(self, severity: Severity, violation: Violation) -> Finding:
        where = violation.field or "record"
        return Finding(
            rule_id=self.rule_id,
            severity=severity,
            citation=str(self.citation),
            message=f"{self.rule_id} ({self.citation}): {where}: {violation.message}",
            field=violation.field,
        )


@dataclass(frozen=True, slots=True)
class Pack:
    """A versioned set of rules in force from `effective_from` until `effective_until`.

    Raises EmptyPolicy for a pack without rules and RegulationError for duplicate rule
    ids, naive dates or an empty validity interval.
    """

    pack_id: PackId
    effective_from: datetime
    effective_until: datetime | None
    rules: tuple[Rule, ...]
    retention: RetentionPolicy
    title: str = ""
    #: `_plan_for`'s memo: rules in scope by (kind, from, to, event), and under `_RULES`
    #: the rules it was computed for.
    _scoped: dict[object, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.rules:
            raise EmptyPolicy(f"pack {self.pack_id} has no rules: an empty pack fails closed")
        ids = [rule.rule_id for rule in self.rules]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise RegulationError(f"pack {self.pack_id} repeats rule ids: {duplicates}")
        require_aware(self.effective_from, field="effective_from")
        if self.effective_until is not None:
            require_aware(self.effective_until, field="effective_until")
            if self.effective_until <= self.effective_from:
                raise RegulationError(f"pack {self.pack_id} ends before it starts")

    @property
    def name(self) -> str:
        return self.pack_id.name

    @property
    def version(self) -> str:
        return self.pack_id.version

    def __str__(self) -> str:
        return str(self.pack_id)

    def in_force(self, at: datetime) -> bool:
        """True when `at` lies in [effective_from, effective_until)."""
        require_aware(at, field="at")
        return self.effective_from <= at and (
            self.effective_until is None or at < self.effective_until
        )

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id. Raises KeyError when the pack has none."""
        for rule in self.rules:
            if rule.rule_id == rule_id:
                return rule
        raise KeyError(rule_id)

    def evaluate(self, proposal: Proposal, facts: OrderFacts) -> Verdict:
        """Judge a proposed record against every rule, in the pack's order.

        Never raises for a bad proposal: what is wrong becomes findings. Raises
        EmptyPolicy if the pack was emptied after construction (fail closed).
        """
        if not self.rules:
            raise EmptyPolicy(f"pack {self.pack_id} has no rules: an empty pack fails closed")
        blocks: list[Finding] = []
        flags: list[Finding] = []
        present = proposal.payload.keys()
        for rule, direct in self._plan_for(proposal):
            # What `rule.evaluate` does, less the calls in between: a plain `Check`
            # whose scope covers the edge (the plan says so) is asked directly.
            try:
                if direct is not None:
                    keys = direct.keys
                    if keys is not None and present.isdisjoint(keys):
                        continue  # none of the keys it reads: it finds nothing
                    violations: Iterable[Violation] = list(direct.function(proposal, facts))
                else:
                    violations = rule.policy.check(proposal, facts)
            except Exception as exc:  # a broken check must block, not crash or pass
                blocks.append(rule._failure(exc))
                continue
            if violations:  # the usual answer is none: build nothing
                severity = rule.severity
                found = blocks if severity is Severity.BLOCK else flags
                for violation in violations:
                    found.append(rule._finding(severity, violation))
        return Verdict(blocks, flags)

    def _plan_for(self, proposal: Proposal) -> tuple[tuple[Rule, Check | None], ...]:
        """The pack's rules, in order, less those whose scope does not cover the record's
        kind and edge; each with its `Check` when that is a plain `Check` (whose function
        `evaluate` may call directly), else None. Remembered per edge (a few dozen in a
        catalogue) for these rules.

        Scopes read only the kind and the edge (see `Scope`), so the plan of one edge
        holds for every record on it, whatever its payload, actor or facts.
        """
        memo = self._scoped
        if memo.get(_RULES) is not self.rules:  # first use, or the rules were replaced
            memo.clear()
            memo[_RULES] = self.rules
        edge = (proposal.kind, proposal.from_state, proposal.to_state, proposal.event)
        found: tuple[tuple[Rule, Check | None], ...] | None = memo.get(edge)
        if found is None:
            if len(memo) > _MAX_EDGES:  # made-up edges must not grow it without end
                memo.clear()
                memo[_RULES] = self.rules
            found = memo[edge] = tuple(
                (rule, rule.policy if type(rule.policy) is Check else None)
                for rule in self.rules
                if not isinstance(rule.policy, Check)
                or rule.policy.scope is None
                or rule.policy.scope.covers(proposal)
            )
        return found

    def retention_policy(self) -> RetentionPolicy:
        """The pack's retention minima as data (record classes, periods, clock starts)."""
        return self.retention
