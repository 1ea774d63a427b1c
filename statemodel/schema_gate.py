"""A compiled yes/no pre-check of payload schemas, in front of the jsonschema reference.

Every append validates its payload against its sub-state's schema. `jsonschema` (the
reference, Draft 2020-12) costs ~100 µs for a typical payload; the same schema compiled
to Python by `fastjsonschema` answers in ~4 µs. The gate only ever says "valid": a
payload it accepts is accepted, anything else goes to the reference, which decides and
names every error. So a gate stricter than the reference changes nothing, and only a
gate more lenient than the reference could let a bad payload through. Against that:

- a schema is compiled only if every keyword in it is one whose Draft-07 meaning in
  fastjsonschema equals its 2020-12 meaning (`GATED_KEYWORDS`); `dependentRequired`
  is translated to Draft-07 `dependencies`, which means the same for arrays of names;
  a schema with any other keyword gets no gate (the reference alone);
- the only formats are ours (`statemodel.formats`), checked by the same functions;
- a `pattern` is handed over already translated by `statemodel.ecma_regex` (ECMA-262
  `$`: end of string only), the same translation the reference uses; a pattern it
  cannot translate gets no gate;
- tests/statemodel/test_schema_gate.py holds the gate sound against the reference on
  every sub-state's schema over valid and mutated payloads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import fastjsonschema

from statemodel.ecma_regex import UntranslatablePattern, ecma_to_python
from statemodel.formats import CHECKED_FORMATS, format_predicates

#: A compiled pre-check: True means valid; False means "ask the reference".
Gate = Callable[[Any], bool]

_ANNOTATIONS: Final = frozenset({"description", "title", "examples", "$comment", "default"})
GATED_KEYWORDS: Final = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minItems", "maxItems", "uniqueItems", "anyOf", "allOf", "oneOf",
    "not", "if", "then", "else", "format", "dependentRequired", "$schema",
}) | _ANNOTATIONS
_DRAFT_07: Final = "http://json-schema.org/draft-07/schema#"
_SUBSCHEMA_LISTS: Final = ("anyOf", "allOf", "oneOf")
_SUBSCHEMAS: Final = ("not", "if", "then", "else", "additionalProperties", "items")


class NotGateable(Exception):
    """The schema uses something the gate cannot be trusted with."""


def compile_gate(schema: Mapping[str, Any]) -> Gate | None:
    """The gate for `schema`, or None when it holds a keyword outside GATED_KEYWORDS
    (or a format we do not check): then the reference alone validates."""
    try:
        draft_07 = {**_translate(schema), "$schema": _DRAFT_07}
    except NotGateable:
        return None
    check = fastjsonschema.compile(draft_07, formats=format_predicates(), use_default=False)

    def gate(payload: Any) -> bool:
        try:
            check(payload)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    return gate


def _translate(schema: Any) -> Any:
    """A Draft-07 copy of a 2020-12 schema node; raises NotGateable."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, Mapping):
        raise NotGateable(f"a schema must be an object or a boolean, not {schema!r}")
    out: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword.startswith("x-") or keyword in _ANNOTATIONS or keyword == "$schema":
            continue
        if keyword not in GATED_KEYWORDS:
            raise NotGateable(keyword)
        if keyword == "format" and value not in CHECKED_FORMATS:
            raise NotGateable(f"format {value!r}")
        if keyword == "properties":
            out[keyword] = {name: _translate(sub) for name, sub in value.items()}
        elif keyword in _SUBSCHEMA_LISTS:
            out[keyword] = [_translate(sub) for sub in value]
        elif keyword in _SUBSCHEMAS:
            if isinstance(value, list):  # Draft-07 tuple `items`: no 2020-12 meaning
                raise NotGateable(f"{keyword} as a list")
            out[keyword] = _translate(value)
        elif keyword == "pattern":
            try:
                out[keyword] = ecma_to_python(value)
            except UntranslatablePattern as exc:
                raise NotGateable(str(exc)) from exc
        elif keyword == "dependentRequired":
            out["dependencies"] = {name: list(names) for name, names in value.items()}
        else:
            out[keyword] = value
    return out
