"""Row types' own helpers."""

from __future__ import annotations

from dataclasses import fields, replace

from tests.store.factories import make_record


def test_with_id_keeps_every_field_but_the_id() -> None:
    record = replace(make_record(), payload_text='{"a":1}')
    stored = record.with_id(7)
    for spec in fields(record):
        expected = 7 if spec.name == "record_id" else getattr(record, spec.name)
        assert getattr(stored, spec.name) == expected, spec.name
