"""JSON Schema `pattern` with its ECMA-262 meaning of `$`, for jsonschema and the gate.

JSON Schema patterns are ECMA-262 regular expressions. Without the `m` flag an ECMA `$`
matches only at the very end of the string; Python's `$` also matches just before a
final "\\n", so under `re.search` a waybill "SF1234567890\\n" would match
`^[A-Z0-9]{8,32}$` and be signed into evidence. The catalogue publishes its schemas as
written (third parties read them as ECMA-262), so we translate at compile time instead:
`ecma_to_python` is the one place that does it, used by `EcmaDraft202012Validator`
(the reference) and by `statemodel.schema_gate` (the compiled pre-check).

Only the anchor is translated. Other ECMA/Python differences (`.` and `\\s` on unusual
line terminators and spaces, `\\d` on non-ASCII digits) are not: the catalogue's
patterns use explicit ASCII classes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError


class UntranslatablePattern(ValueError):
    """A pattern that is not a well-formed ECMA-262 regular expression as we read it."""


def ecma_to_python(pattern: str) -> str:
    """The Python `re` pattern that matches (under `re.search`) what ECMA-262 `pattern`
    matches without flags, as far as end anchors and character classes go.

    Every unescaped `$` outside a character class becomes `\\Z` (end of string only);
    inside a class `$` and `[` become `\\$` and `\\[` (literal in both dialects, and no
    `$` is left for fastjsonschema's own, class-blind rewrite); ECMA's empty class `[]`
    becomes `(?!)` (matches nothing) and `[^]` becomes `[\\s\\S]` (any character).
    Raises UntranslatablePattern for a trailing lone backslash or an unclosed class.
    """
    out: list[str] = []
    index, length = 0, len(pattern)
    in_class = False
    while index < length:
        char = pattern[index]
        if char == "\\":
            if index + 1 == length:
                raise UntranslatablePattern(f"pattern {pattern!r} ends in a lone backslash")
            out.append(pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
                out.append(char)
            elif char in "$[":
                out.append("\\" + char)
            else:
                out.append(char)
        elif char == "[":
            if pattern.startswith("[]", index):
                out.append("(?!)")
                index += 2
                continue
            if pattern.startswith("[^]", index):
                out.append(r"[\s\S]")
                index += 3
                continue
            in_class = True
            prefix = "[^" if pattern.startswith("[^", index) else "["
            out.append(prefix)
            index += len(prefix)
            continue
        elif char == "$":
            out.append(r"\Z")
        else:
            out.append(char)
        index += 1
    if in_class:
        raise UntranslatablePattern(f"pattern {pattern!r} has an unclosed character class")
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def compile_ecma(pattern: str) -> re.Pattern[str]:
    """`pattern` (ECMA-262) compiled for `re.search`; cached, since schemas repeat theirs.

    Raises UntranslatablePattern or re.error for a pattern that is not a regex.
    """
    return re.compile(ecma_to_python(pattern))


def _pattern(
    validator: Draft202012Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    # jsonschema's own `pattern`, with the ECMA meaning; the message names the pattern
    # as published, not its Python translation.
    if validator.is_type(instance, "string") and not compile_ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Draft202012Validator, properties: Mapping[str, Any], instance: Any,
    schema: Mapping[str, Any],
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in properties.items():
        for name, value in instance.items():
            if compile_ecma(pattern).search(name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


#: Draft 2020-12 with `pattern` and `patternProperties` read as ECMA-262 (see module doc).
EcmaDraft202012Validator: type[Draft202012Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators={"pattern": _pattern, "patternProperties": _pattern_properties},
)
