"""The order state machine: a typed wrapper over `transitions`, one per catalogue.

One `OrderMachine` is built per catalogue digest and shared by every order and thread
(`get_machine`); it holds no per-order state. Orders do not get a machine or model of
their own: callers ask where an event leads from a sub-state (`target`) and record the
answer. There are no `to_<state>()` shortcuts (auto_transitions=False) and unknown
triggers are errors, never ignored.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from jsonschema.exceptions import ValidationError
from transitions import Machine

from statemodel.catalogue import Catalogue, SubState
from statemodel.ecma_regex import EcmaDraft202012Validator
from statemodel.errors import IllegalTransition, PayloadInvalid, UnknownEvent, UnknownState
from statemodel.formats import make_format_checker
from statemodel.schema_gate import Gate, compile_gate

PAYLOAD_ROOT = "payload"


def _ask_the_reference(payload: Any) -> bool:
    """The gate of a schema that has none: jsonschema alone decides."""
    return False


class OrderMachine:
    """Answers questions about one catalogue's machine; immutable once built."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._machine = Machine(
            model=None,  # no model: one shared graph, never a machine per order
            states=list(catalogue.sub_states),
            transitions=[
                {"trigger": event, "source": source, "dest": target}
                for event, source, target in catalogue.edges()
            ],
            initial=None,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        self._creations = {creation.event: creation.to for creation in catalogue.creations}
        self._targets = self._target_table()
        checker = make_format_checker()
        self._validators = {
            code: EcmaDraft202012Validator(catalogue.payload_schema(code), format_checker=checker)
            for code in catalogue.sub_states
        }
        # Compiled on first use (41 schemas cost ~0.4 s together); a race compiles twice.
        # A schema with no gate gets `_ask_the_reference`.
        self._gates: dict[str, Gate] = {}

    @property
    def digest(self) -> str:
        return self.catalogue.digest

    def target(self, state: str | None, event: str) -> str:
        """The sub-state `event` leads to from `state` (None: creating the order, seq 0).

        Raises UnknownState for a code the catalogue lacks, UnknownEvent for an event
        it does not declare, IllegalTransition when the event is declared but not
        allowed in `state` (the message lists the events allowed there).
        """
        # Every allowed step is in the table `transitions` answered when the machine was
        # built; only a refusal takes the long way, to raise the precise error.
        destination = self._targets.get((state, event))
        if destination is not None:
            return destination
        if state is not None:
            self._require_state(state)
        if event not in self.catalogue.events:
            raise UnknownEvent(
                f"unknown event {event!r} (catalogue {self.catalogue.version})", field="event"
            )
        if state is None:
            if event in self._creations:
                return self._creations[event]
            raise IllegalTransition(
                f"event {event!r} cannot create an order; creation events: "
                f"{', '.join(self.allowed_events(None))}",
                state=None,
                event=event,
            )
        destination = self._ask_transitions(state, event)
        if destination is None:
            raise IllegalTransition(self._illegal_message(state, event), state=state, event=event)
        return destination

    def _ask_transitions(self, state: str, event: str) -> str | None:
        """Where the `transitions` machine sends `event` from `state` (None: nowhere)."""
        found = self._machine.get_transitions(trigger=event, source=state)
        if not found:
            return None
        destination = found[0].dest
        assert isinstance(destination, str)  # every declared edge has a destination
        return destination

    def _target_table(self) -> dict[tuple[str | None, str], str]:
        """(state, event) -> target for every step `target` allows, asked of the
        `transitions` machine (which stays the one source of the graph) once per pair:
        `get_transitions` scans the whole event's transition list on every call."""
        events = self.catalogue.events
        table: dict[tuple[str | None, str], str] = {
            (None, event): to for event, to in self._creations.items() if event in events
        }
        for state in self.catalogue.sub_states:
            for event in events:
                destination = self._ask_transitions(state, event)
                if destination is not None:
                    table[(state, event)] = destination
        return table

    def allowed_events(self, state: str | None) -> list[str]:
        """Events allowed in `state` (None: creation events), sorted. Raises UnknownState."""
        if state is None:
            return sorted(self._creations)
        self._require_state(state)
        return sorted(self._machine.get_triggers(state))

    def is_edge(self, source: str | None, event: str, destination: str) -> bool:
        """Whether the catalogue declares this exact step (evidence-format §5); never raises."""
        try:
            return self.target(source, event) == destination
        except (UnknownState, UnknownEvent, IllegalTransition):
            return False

    def is_initial(self, state: str) -> bool:
        return self._require_state(state).initial

    def is_final(self, state: str) -> bool:
        return self._require_state(state).final

    def main_of(self, state: str) -> str:
        """The main-state code (`M09`) of a sub-state (`M09.02`). Raises UnknownState."""
        return self._require_state(state).main

    def validate_payload(self, sub_state: str, payload: object) -> None:
        """Check `payload` against the sub-state's schema merged with `common_payload`.

        Raises UnknownState for an unknown code and PayloadInvalid listing every error
        as (path like `payload.missing_items[0].doc_type`, message), sorted, the first
        one in the exception message.
        """
        # The common case first, in as few calls as it takes: a dict the gate compiled
        # before (so the sub-state is known) accepts.
        gate = self._gates.get(sub_state)
        gate_asked = gate is not None and type(payload) is dict
        if gate_asked and gate is not None and gate(payload):
            return
        self._require_state(sub_state)
        if not isinstance(payload, Mapping):
            errors = [(PAYLOAD_ROOT, f"must be a JSON object, not {type(payload).__name__}")]
        elif not gate_asked and self._gate(sub_state)(payload):
            return  # the compiled gate only ever says "valid" (statemodel.schema_gate)
        else:
            validator = self._validators[sub_state]
            errors = sorted(
                {item for error in validator.iter_errors(payload) for item in _describe(error)}
            )
        if errors:
            path, message = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise PayloadInvalid(
                f"payload for {sub_state} is invalid: {path}: {message}{more}", errors=errors
            )

    def _gate(self, sub_state: str) -> Gate:
        gate = self._gates.get(sub_state)
        if gate is None:
            gate = compile_gate(self.catalogue.payload_schema(sub_state)) or _ask_the_reference
            self._gates[sub_state] = gate
        return gate

    def _require_state(self, state: str) -> SubState:
        sub = self.catalogue.sub_states.get(state)
        if sub is None:
            raise UnknownState(
                f"unknown sub-state {state!r} (catalogue {self.catalogue.version})", field="state"
            )
        return sub

    def _illegal_message(self, state: str, event: str) -> str:
        sub = self.catalogue.sub_states[state]
        allowed = self.allowed_events(state)
        where = f"sub-state {state} ({sub.name_en})"
        if not allowed:
            return f"event {event!r} is not allowed in {where}: it is final, no event leaves it"
        return f"event {event!r} is not allowed in {where}; allowed there: {', '.join(allowed)}"


def _field_path(parts: Any) -> str:
    text = PAYLOAD_ROOT
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) pairs for one error, naming the offending field itself.

    `required`, `dependentRequired` and `additionalProperties` errors sit on the parent
    object; we point at the missing or unexpected field instead, which is what a caller
    has to fix.
    """
    base = _field_path(error.absolute_path)
    instance = error.instance
    rule: Any = error.validator_value  # the keyword's value: a list or a dict here
    if error.validator == "required" and isinstance(instance, Mapping):
        missing = [name for name in rule if name not in instance]
        name = next((n for n in missing if error.message.startswith(repr(n))), None)
        if name is not None:
            return [(f"{base}.{name}", "missing required actionable field")]
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        declared = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        extras = sorted(name for name in instance if name not in declared)
        return [(f"{base}.{name}", "unknown field (not declared for this sub-state)")
                for name in extras]
    if error.validator == "dependentRequired" and isinstance(instance, Mapping):
        needed = sorted({dep for deps in rule.values() for dep in deps})
        name = next((n for n in needed if error.message.startswith(repr(n))), None)
        if name is not None and name not in instance:
            return [(f"{base}.{name}", error.message)]
    return [(base, error.message)]


_machines: dict[str, OrderMachine] = {}
_machines_lock = threading.Lock()


def get_machine(catalogue: Catalogue) -> OrderMachine:
    """The shared machine of `catalogue`, built once per digest (thread-safe)."""
    machine = _machines.get(catalogue.digest)
    if machine is None:
        with _machines_lock:
            machine = _machines.get(catalogue.digest)
            if machine is None:
                machine = OrderMachine(catalogue)
                _machines[catalogue.digest] = machine
    return machine
