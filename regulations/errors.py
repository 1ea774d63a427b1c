"""Errors of the regulation packs, under the project's one root (statemodel.errors).

`RuleViolation` and `UnknownPack` are `InvalidInput`: the caller sent something a pack
refuses, and the API answers 4xx naming the field. The others mean a pack itself is
unusable, which must never let a record through (fail closed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemodel.errors import InvalidInput, OrderledgerError

if TYPE_CHECKING:
    from regulations.model import Finding


class RegulationError(OrderledgerError):
    """A pack, rule or policy is malformed; nothing may be judged by it."""


class EmptyPolicy(RegulationError):
    """A pack without rules, or an `AllOf` / `AnyOf` without children: it fails closed."""


class NoPackInForce(RegulationError):
    """No registered pack is in force at the requested moment."""


class UnknownPack(InvalidInput):
    """A `name@version` that no registered pack has."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="rules")


class RuleViolation(InvalidInput):
    """A proposed record breaks one or more `block` rules; it must not be appended.

    `findings` holds every blocking finding; `field` and `rule_id` are those of the first.
    """

    def __init__(self, findings: list[Finding]) -> None:
        if not findings:
            raise ValueError("RuleViolation needs at least one finding")
        detail = "; ".join(finding.message for finding in findings)
        super().__init__(detail, field=findings[0].field)
        self.findings = findings
        self.rule_id = findings[0].rule_id
