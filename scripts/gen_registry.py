#!/usr/bin/env python3
"""Propose metadata-registry entries for every data element the state catalogue uses.

    .venv/bin/python scripts/gen_registry.py            # rewrite statemodel/data/registry.yaml
    .venv/bin/python scripts/gen_registry.py --check    # exit 1 if entries are missing

The committed `registry.yaml` stays the source of truth: existing entries (matched by
name) are kept exactly as they are, hand edits included; the script only APPENDS
entries for data elements (and their object classes, properties, concepts and value
domains) that the catalogue or the core envelope use but the registry lacks, and
permissible values that the catalogue's code lists gained. Review the proposal (its
definitions come from the catalogue's field descriptions) before committing it.
Comments in registry.yaml other than the header below are not preserved.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from gen_registry_texts import (  # the sibling file; scripts run from this directory
    ENVELOPE,
    GENERIC_CD,
    OBJECT_CLASSES,
    PARTY_DEFINITIONS,
    UNIT_SUFFIXES,
    UNIT_WORDS,
)

from statemodel.registry_catalogue import payload_fields

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "statemodel" / "data" / "registry.yaml"
CATALOGUE = ROOT / "statemodel" / "data" / "catalogue.yaml"
EFFECTIVE_FROM = "2026-03-01"
HEADER = """\
# orderledger ISO/IEC 11179-3 metadata registry: every payload field of the state
# catalogue names one data element here (`x-data-element`). Source of truth; validated
# at load by statemodel/registry*.py. scripts/gen_registry.py proposes entries for new
# catalogue fields (it appends, never rewrites). Model and export: docs/registry.md.
# References are `identifier@version`; `defaults` fills omitted administration fields.
"""
SECTIONS = ("object_classes", "properties", "conceptual_domains", "value_domains",
            "data_element_concepts", "data_elements")
PREFIX = {"object_classes": "OL-OC-", "properties": "OL-PR-", "conceptual_domains": "OL-CD-",
          "value_domains": "OL-VD-", "data_element_concepts": "OL-DEC-",
          "data_elements": "OL-DE-"}

def unit_for(path: str, description: str) -> str | None:
    """The unit a numeric field is in: from its name, its parent's name, or its words."""
    for segment in reversed(path.replace("[]", "").split(".")):
        for suffix, unit in UNIT_SUFFIXES.items():
            if segment.endswith(suffix):
                return unit
        for word, unit in UNIT_WORDS.items():
            if segment.startswith(word):
                return unit
    lowered = description.lower()
    return next((unit for word, unit in UNIT_WORDS.items() if word in lowered), None)


class _Flow(dict[str, Any]):
    """Written in YAML flow style: one line per permissible value."""


yaml.SafeDumper.add_representer(
    _Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))


def words(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", camel).lower()


def humanise(value: str) -> str:
    """`out_of_stock` -> `Out of stock`, `BUYER` -> `Buyer`, `refund` -> `Refund`."""
    text = value.replace("_", " ").strip()
    if text.isupper() or "_" in value:
        text = text.lower()
    return text[:1].upper() + text[1:]


class Proposer:
    """Holds the registry document and appends what is missing."""

    def __init__(self, document: dict[str, Any], catalogue: Mapping[str, Any]) -> None:
        self.doc = document
        self.catalogue = catalogue
        for section in SECTIONS:
            self.doc.setdefault(section, [])
        self.added: list[str] = []
        # Data elements whose (value domain, conceptual domain) are the catalogue's own
        # code lists rather than something derived from one field's schema.
        self.special: dict[str, tuple[str, str]] = {}
        # Concepts represented in more than one way (a code and a text of one thing):
        # the concept gets its own conceptual domain that every representation shares.
        self.shared_concepts: set[str] = set()

    def _find(self, section: str, name: str) -> dict[str, Any] | None:
        entries: list[dict[str, Any]] = self.doc[section]
        for entry in entries:
            if entry["name"] == name and entry.get("status") not in ("Superseded", "Retired"):
                return entry
        return None

    def _ref(self, entry: Mapping[str, Any]) -> str:
        return f"{entry['id']}@{entry.get('version', 1)}"

    def _add(self, section: str, entry: dict[str, Any]) -> dict[str, Any]:
        numbers = [int(e["id"].rsplit("-", 1)[1]) for e in self.doc[section]]
        entry = {"id": f"{PREFIX[section]}{max(numbers, default=0) + 1:06d}", **entry}
        self.doc[section].append(entry)
        self.added.append(f"{section} {entry['id']} {entry['name']}")
        return entry

    def ensure(self, section: str, name: str, **fields: Any) -> str:
        found = self._find(section, name)
        return self._ref(found if found is not None else self._add(section, {"name": name,
                                                                             **fields}))

    def conceptual_domain(self, name: str, definition: str,
                          meanings: list[tuple[str, str]] | None = None) -> str:
        found = self._find("conceptual_domains", name)
        if found is None:
            found = self._add("conceptual_domains", {"name": name, "definition": definition})
        if meanings:
            have = {vm["meaning"] for vm in found.setdefault("value_meanings", [])}
            found["value_meanings"].extend(
                {"meaning": m, "definition": d} for m, d in meanings if m not in have)
        return self._ref(found)

    def value_domain(self, name: str, cd: str, fields: dict[str, Any],
                     values: list[tuple[str, str]] | None = None) -> str:
        found = self._find("value_domains", name)
        if found is None:
            found = self._add("value_domains", {"name": name, "definition": fields.pop(
                "definition"), "conceptual_domain": cd, **fields})
        if values:
            have = {pv["value"] for pv in found.setdefault("permissible_values", [])}
            found["permissible_values"].extend(
                _Flow(value=v, meaning=m) for v, m in values if v not in have)
        return self._ref(found)

    def element(self, name: str, schema: Mapping[str, Any], field: str,
                definition: str) -> None:
        if self._find("data_elements", name) is not None:
            return
        oc_name, prop_name, term = name.split(".")
        oc_text = OBJECT_CLASSES.get(oc_name)
        oc = self.ensure("object_classes", oc_name, **(
            {"definition": oc_text[0], "definition_zh": oc_text[1]} if oc_text else
            {"definition": f"A {words(oc_name)} (object class first used by {name})."}))
        prop = self.ensure("properties", prop_name,
                           definition=f"The {words(prop_name)} of an object; first used by "
                                      f"{name}: {definition}")
        if name in self.special:
            vd, cd = self.special[name]
        elif f"{oc_name}.{prop_name}" in self.shared_concepts:
            vd, cd = self.representation(name, term, schema, field, shared=definition)
        else:
            vd, cd = self.representation(name, term, schema, field)
        dec = self.ensure("data_element_concepts", f"{oc_name}.{prop_name}",
                          definition=definition, object_class=oc, property=prop,
                          conceptual_domain=cd)
        self._add("data_elements", {"name": name, "definition": definition,
                                    "data_element_concept": dec, "value_domain": vd})

    def representation(self, name: str, term: str, schema: Mapping[str, Any], field: str,
                       shared: str | None = None) -> tuple[str, str]:
        """(value domain ref, conceptual domain ref) fitting the term and the schema.

        `shared` (a definition) gives the element's concept a conceptual domain of its
        own, for a concept that more than one representation shares.
        """
        item = schema
        while item.get("type") == "array" and isinstance(item.get("items"), Mapping):
            item = item["items"]
        enum = item.get("enum")
        stem = name.rsplit(".", 1)[0]
        if enum and term == "Code":
            values = [(str(v), self.meaning_of(str(v))) for v in enum]
            cd = self.conceptual_domain(
                f"{stem} values", concept_domain_definition(stem, shared),
                [(m, value_meaning_definition(stem, m)) for _, m in values])
            vd = self.value_domain(f"{name if shared else stem} codes", cd, {
                "definition": f"Codes of {stem}.", "data_type": "code",
                "max_length": max(len(v) for v, _ in values)}, values)
            return vd, cd
        kind, data_type, vd_name, extra = self.kind_of(term, item, field)
        if shared:
            cd = self.conceptual_domain(f"{stem} values", concept_domain_definition(stem, shared))
            vd_name = f"{name} ({vd_name})"
        else:
            cd = self.conceptual_domain(*GENERIC_CD[kind])
        return self.value_domain(vd_name, cd, {"definition": f"{vd_name}.",
                                               "data_type": data_type, **extra}), cd

    def kind_of(self, term: str, item: Mapping[str, Any],
                field: str) -> tuple[str, str, str, dict[str, Any]]:
        pattern, max_len = item.get("pattern"), item.get("maxLength")
        extra: dict[str, Any] = {k: v for k, v in (("format", pattern),
                                                   ("max_length", max_len)) if v}
        shape = (f" matching {pattern}" if pattern else "") + (
            f", at most {max_len} characters" if max_len else "")
        if term == "DateTime":
            return "date-time", "date-time", "RFC 3339 date-time with offset", {
                "format": "YYYY-MM-DDThh:mm:ss[.sss](Z|±hh:mm)"}
        if term == "Date":
            return "date", "date", "ISO 8601 calendar date", {"format": "YYYY-MM-DD"}
        if term == "Indicator":
            return "boolean", "boolean", "Boolean indicator", {}
        if term == "Amount":
            return "amount", "decimal", "Money amount as a decimal string", {
                "format": str(item.get("pattern") or "decimal"),
                "unit_of_measure": "ISO 4217 currency named by the payload's currency field"}
        if term in ("Measure", "Quantity", "Number", "Percent"):
            unit = unit_for(field, str(item.get("description") or ""))
            data_type = "integer" if item.get("type") == "integer" else "decimal"
            kind = "measure" if term == "Measure" else "count"
            label = f"{'Whole' if data_type == 'integer' else 'Decimal'} number"
            if unit:
                return kind, data_type, f"{label} in {unit}", {"unit_of_measure": unit}
            return kind, data_type, label, {}
        if term == "Identifier" and item.get("format") == "uuid":
            return "identifier", "uuid", "UUID (RFC 9562)", {"format": "uuid", "max_length": 36}
        if term == "Hash":
            return "hash", "hash", f"Hex digest{shape}", extra
        kinds = {"Code": ("code", "code"), "Identifier": ("identifier", "identifier"),
                 "Reference": ("reference", "reference"), "Name": ("name", "string"),
                 "Text": ("string", "string")}
        kind, data_type = kinds.get(term, ("string", "string"))
        return kind, data_type, f"{term}{shape or ' (unconstrained)'}", extra

    def meaning_of(self, value: str) -> str:
        for party in self.catalogue.get("responsible_parties") or []:
            if party.get("code") == value:
                return str(party.get("name_en") or humanise(value))
        return humanise(value)


def code_list(proposer: Proposer, element: str, names: tuple[str, str], cd_definition: str,
              entries: list[tuple[str, str, str]], max_length: int) -> None:
    """Register one of the catalogue's own code lists (code, meaning, definition)."""
    cd_name, vd_name = names
    cd = proposer.conceptual_domain(cd_name, cd_definition,
                                    [(meaning, definition) for _, meaning, definition in entries])
    vd = proposer.value_domain(vd_name, cd, {
        "definition": f"Codes of the {cd_name.lower()} of the state catalogue.",
        "data_type": "code", "max_length": max_length},
        [(code, meaning) for code, meaning, _ in entries])
    proposer.special[element] = (vd, cd)


def _named(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    code = str(entry["code"])
    name = str(entry.get("name_en") or entry.get("name") or code)
    zh = entry.get("name_zh")
    definition = str(entry.get("definition_en") or entry.get("description_en")
                     or PARTY_DEFINITIONS.get(code) or f"{name}.")
    return code, name, definition + (f" ({zh})" if zh else "")


def seed(proposer: Proposer) -> None:
    """Records, defaults, the catalogue's own code lists and the envelope elements."""
    doc, catalogue = proposer.doc, proposer.catalogue
    doc.setdefault("format", "orderledger.registry.v1")
    doc.setdefault("defaults", {
        "version": 1, "registration_authority": "OL-RA-000001", "steward": "OL-ORG-000001",
        "submitting_organisation": "OL-ORG-000001", "status": "Recorded",
        "effective_from": EFFECTIVE_FROM})
    doc.setdefault("registration_authorities", [{
        "id": "OL-RA-000001", "name": "orderledger",
        "definition": "Registration authority of the orderledger project: registers the "
                      "data elements that order fulfilment records use."}])
    doc.setdefault("organisations", [{
        "id": "OL-ORG-000001", "name": "orderledger data governance",
        "definition": "Stewards and submits the orderledger registry content."}])
    # Reorder so the records come before the items however the file was written.
    for key in ("format", "defaults", "registration_authorities", "organisations", *SECTIONS):
        if key in doc:
            doc[key] = doc.pop(key)
    code_list(proposer, "StatusEvent.SubState.Code", ("Order sub-states", "Sub-state codes"),
              "The event sub-states of an order in the state catalogue.",
              [_named(s) for s in catalogue.get("sub_states") or []], 6)
    code_list(proposer, "StatusEvent.MainState.Code", ("Order main states", "Main-state codes"),
              "The main states of an order, each derived from its sub-state.",
              [_named(m) for m in catalogue.get("main_states") or []], 3)
    code_list(proposer, "StatusEvent.ResponsibleParty.Code",
              ("Responsible parties", "Responsible-party codes"),
              "The parties that can be responsible for the next step of an order.",
              [_named(p) for p in catalogue.get("responsible_parties") or []], 16)
    actions: dict[str, tuple[str, str, str]] = {}
    for sub_state in catalogue.get("sub_states") or []:
        action = sub_state.get("action")
        if isinstance(action, Mapping) and action.get("code"):
            code = str(action["code"])
            zh = f" ({action['description_zh']})" if action.get("description_zh") else ""
            actions.setdefault(code, (code, humanise(code),
                                      f"{action.get('description_en') or humanise(code)}{zh}"))
    code_list(proposer, "StatusEvent.Action.Code", ("Sub-state actions", "Action codes"),
              "The actions that entering a sub-state triggers.", list(actions.values()), 64)
    for name, schema, field, definition in ENVELOPE:
        proposer.element(name, schema, field, definition)


def load_catalogue_document() -> dict[str, Any]:
    try:
        from statemodel.catalogue import load_catalogue
    except ImportError:
        loaded = yaml.safe_load(CATALOGUE.read_text("utf-8"))
        assert isinstance(loaded, dict)
        return loaded
    return dict(load_catalogue().document)


def propose(document: dict[str, Any], catalogue: Mapping[str, Any]) -> Proposer:
    proposer = Proposer(document, catalogue)
    kinds: dict[str, set[str]] = {}
    for field in payload_fields(catalogue):
        if field.data_element and field.data_element.count(".") == 2:
            stem, term = field.data_element.rsplit(".", 1)
            kinds.setdefault(stem, set()).add(term)
    proposer.shared_concepts = {stem for stem, terms in kinds.items() if len(terms) > 1}
    seed(proposer)
    # One element, one meaning: take the first description any of its uses gives.
    described: dict[str, str] = {}
    for field in payload_fields(catalogue):
        if field.data_element and field.schema.get("description"):
            described.setdefault(field.data_element, str(field.schema["description"]))
    for field in payload_fields(catalogue):
        name = field.data_element
        if name:
            proposer.element(name, field.schema, field.path,
                             described.get(name) or fallback_definition(name))
    return proposer


def concept_domain_definition(stem: str, shared: str | None) -> str:
    object_class, prop = stem.split(".")
    o = words(object_class)
    text = f"The possible {words(prop)}s of {'an' if o[0] in 'aeiou' else 'a'} {o}"
    return text + (", however represented." if shared else ".")


def value_meaning_definition(stem: str, meaning: str) -> str:
    object_class, prop = stem.split(".")
    return f"The {words(prop)} of the {words(object_class)} is {meaning[:1].lower()}{meaning[1:]}."


FALLBACK_BY_TERM = {
    "DateTime": "The date and time of the {p} of {a} {o}.",
    "Date": "The date of the {p} of {a} {o}.",
    "Code": "The code for the {p} of {a} {o}.",
    "Identifier": "The identifier of the {p} of {a} {o}.",
    "Reference": "A reference to the {p} of {a} {o}, kept elsewhere.",
    "Amount": "The {p} amount of {a} {o}, in the currency the payload names.",
    "Measure": "The {p} of {a} {o}, in the unit of its value domain.",
    "Quantity": "The {p} count of {a} {o}.",
    "Number": "The {p} number of {a} {o}.",
    "Name": "The name of the {p} of {a} {o}.",
    "Text": "Text giving the {p} of {a} {o}.",
    "Indicator": "Whether {p} applies to the {o}.",
    "Hash": "The digest of the {p} of {a} {o}.",
    "Percent": "The {p} of {a} {o}, in percent.",
}


def fallback_definition(name: str) -> str:
    """`Payment.Channel.Code` -> `The code for the channel of a payment.` (for review)."""
    object_class, prop, term = name.split(".")
    o = words(object_class)
    template = FALLBACK_BY_TERM.get(term, "The {p} of {a} {o}.")
    return template.format(p=words(prop), o=o, a="an" if o[0] in "aeiou" else "a")


def dump(document: Mapping[str, Any]) -> str:
    """The registry as YAML: block style, one flow-style line per permissible value."""
    for domain in document.get("value_domains") or []:
        if domain.get("permissible_values"):
            domain["permissible_values"] = [_Flow(pv) for pv in domain["permissible_values"]]
    body = yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=100)
    return HEADER + "\n" + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report missing entries")
    args = parser.parse_args()
    document = yaml.safe_load(REGISTRY.read_text("utf-8")) if REGISTRY.exists() else {}
    proposer = propose(document, load_catalogue_document())
    for line in proposer.added:
        print(("missing " if args.check else "added ") + line)
    if args.check:
        return 1 if proposer.added else 0
    REGISTRY.write_text(dump(proposer.doc), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
