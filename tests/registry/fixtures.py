"""A small, valid registry document for tests, built fresh on every call so tests can
break one part of it without touching the others."""

from __future__ import annotations

from typing import Any

MINI_YAML = """\
format: orderledger.registry.v1
defaults:
  version: 1
  registration_authority: OL-RA-000001
  steward: OL-ORG-000001
  submitting_organisation: OL-ORG-000001
  status: Recorded
  effective_from: 2026-01-01
registration_authorities:
  - id: OL-RA-000001
    name: orderledger
    definition: Registers the data elements of the order ledger.
organisations:
  - id: OL-ORG-000001
    name: orderledger data governance
    definition: Stewards the registry content.
object_classes:
  - id: OL-OC-000001
    name: StatusEvent
    definition: A status update of one order.
    definition_zh: 订单状态事件
properties:
  - id: OL-PR-000001
    name: SubState
    definition: The sub-state reached.
  - id: OL-PR-000002
    name: Occurrence
    definition: When it happened.
conceptual_domains:
  - id: OL-CD-000001
    name: Order sub-states
    definition: The sub-states of an order.
    value_meanings:
      - meaning: Awaiting payment
        definition: Placed, not yet paid.
      - meaning: Paid
        definition: Payment captured.
  - id: OL-CD-000002
    name: Points in time
    definition: Instants on the UTC time line.
value_domains:
  - id: OL-VD-000001
    name: Sub-state code
    definition: Codes of the order sub-states.
    conceptual_domain: OL-CD-000001@1
    data_type: code
    max_length: 6
    permissible_values:
      - {value: M01.01, meaning: Awaiting payment}
      - {value: M01.02, meaning: Paid}
  - id: OL-VD-000002
    name: UTC date-time
    definition: RFC 3339 date-time in UTC.
    conceptual_domain: OL-CD-000002@1
    data_type: date-time
    format: YYYY-MM-DDThh:mm:ss.sssZ
data_element_concepts:
  - id: OL-DEC-000001
    name: StatusEvent.SubState
    definition: The sub-state a status event reports.
    object_class: OL-OC-000001@1
    property: OL-PR-000001@1
    conceptual_domain: OL-CD-000001@1
  - id: OL-DEC-000002
    name: StatusEvent.Occurrence
    definition: When a status event happened.
    object_class: OL-OC-000001@1
    property: OL-PR-000002@1
    conceptual_domain: OL-CD-000002@1
data_elements:
  - id: OL-DE-000001
    name: StatusEvent.SubState.Code
    definition: Code of the sub-state a status event reports.
    data_element_concept: OL-DEC-000001@1
    value_domain: OL-VD-000001@1
  - id: OL-DE-000002
    name: StatusEvent.Occurrence.DateTime
    definition: When the status event happened, per its source.
    data_element_concept: OL-DEC-000002@1
    value_domain: OL-VD-000002@1
"""


def mini_document() -> dict[str, Any]:
    """MINI_YAML loaded as a fresh mutable document."""
    import yaml

    document = yaml.safe_load(MINI_YAML)
    assert isinstance(document, dict)
    return document


def mini_catalogue() -> dict[str, Any]:
    """A two-sub-state catalogue document whose fields all use MINI_YAML's elements."""
    occurred = {"type": "string", "format": "date-time",
                "x-data-element": "StatusEvent.Occurrence.DateTime"}
    return {
        "common_payload": {"occurred_at": dict(occurred)},
        "sub_states": [
            {"code": "M01.01", "payload": {"type": "object", "properties": {
                "history": {"type": "array", "x-data-element": "StatusEvent.SubState.Code",
                            "items": {"type": "string", "enum": ["M01.01"]}},
            }}},
            {"code": "M01.02", "payload": {"type": "object", "properties": {
                "steps": {"type": "array", "x-data-element": "StatusEvent.Occurrence.DateTime",
                          "items": {"type": "object", "properties": {
                              "at": dict(occurred),
                          }}},
            }}},
        ],
    }
