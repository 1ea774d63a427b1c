"""CPU of the `statemodel` calls one append makes, and a fingerprint of their results.

    .venv/bin/python bench/statemodel_cpu.py [--rounds N] [--repeat R]
    .venv/bin/python bench/statemodel_cpu.py --only STEP --calls N   # for cachegrind

Per record, in CPU (process time), what `ledger.append.AppendService._judge` asks of
`statemodel` on bench/append.py's stream (nine `hub_scan` self-loops on M05.02, which
re-arm the `no_scan` timer, for each order creation):

- `target`: `OrderMachine.target`;
- `validate`: `OrderMachine.validate_payload` (the compiled gate, on valid payloads);
- `plan_timers`: `statemodel.sla.plan_timers` with the sub-states' timers;
- `canonical payload` / `canonical statement`: `canonical_json` of the payload and of a
  statement object shaped like spec §1's;
- `parse_rfc3339`: one payload time;
- `whole record`: all of the above but `parse_rfc3339` for each record in turn (the
  payload gate and the SLA planner parse the same payload time one after the other).

Each step is timed over `repeat` passes of the mix and the best of `rounds` rounds is
kept (the machine is shared: the minimum is the least disturbed). For instruction
counts, run one step alone under cachegrind twice, with `--calls 0` and `--calls N`, and
divide the difference by N:

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        .venv/bin/python bench/statemodel_cpu.py --only target --calls 20000

The fingerprint (SHA-256) covers every step's result, or error, over ALL scenarios and a
table of awkward inputs, so a faster `statemodel` can show it changed no result. To
compare with an older copy, run with `PYTHONPATH=<folder holding that statemodel/>`.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

# Run as a script, the folder on sys.path is bench/; PYTHONPATH still comes first.
sys.path.append(str(Path(__file__).resolve().parent.parent))

from statemodel.canonical import canonical_json
from statemodel.catalogue import Catalogue, load_catalogue
from statemodel.formats import parse_rfc3339
from statemodel.machine import OrderMachine, get_machine
from statemodel.scenarios import DOMESTIC_HAPPY_PATH, SCENARIOS
from statemodel.sla import plan_timers

HUB: Final = "M05.02"
SCANS_PER_CREATION: Final = 9


def _statement(seq: int, from_state: str | None, to_state: str, event: str) -> dict[str, Any]:
    """A statement object of spec §1's shape with realistic field lengths."""
    return {
        "v": 1, "log": "orderledger.example/log/1", "kind": "transition",
        "tenant": "shop-1", "order": "bench-w0-o17", "seq": seq, "prev": "ab" * 32,
        "from": from_state, "to": to_state, "event": event,
        "event_time": "2026-03-02T07:37:00.000Z", "recorded_at": "2026-03-02T07:38:00.000Z",
        "actor": {"type": "carrier", "id": "sf-express"}, "payload_digest": "cd" * 32,
        "model": "sha256:" + "ef" * 32, "rules": "cn-express@2026.1", "key_id": "k-" + "12" * 8,
    }


class Mix:
    """The records of one pass: nine hub scans, then one creation."""

    def __init__(self, catalogue: Catalogue) -> None:
        steps = DOMESTIC_HAPPY_PATH.steps
        scan = next(s for s in steps if s.expect == HUB and s.event == "hub_scan")
        create = steps[0]
        self.catalogue = catalogue
        self.machine: OrderMachine = get_machine(catalogue)
        subs = catalogue.sub_states
        # Each scan its own payload and time, as a live feed sends them: nothing a step
        # remembers of one record may serve the next.
        hubs = [
            (HUB, scan.event, {**scan.payload, "scanned_at": at}, parse_rfc3339(at),
             subs[HUB].timers)
            for at in (f"2026-03-02T15:{minute:02d}:00+08:00"
                       for minute in range(SCANS_PER_CREATION))
        ]
        created = (None, create.event, dict(create.payload), parse_rfc3339(create.at), ())
        self.records = [*hubs, created]
        self.targets = [self.machine.target(r[0], r[1]) for r in self.records]
        self.statements = [_statement(7, r[0], t, r[1])
                           for r, t in zip(self.records, self.targets, strict=True)]
        self.times = [str(r[2].get("scanned_at", create.at)) for r in self.records]

    def calls(self) -> dict[str, Callable[[], object]]:
        machine, subs, records = self.machine, self.catalogue.sub_states, self.records
        targets, statements, times = self.targets, self.statements, self.times
        pairs = list(zip(records, targets, strict=True))
        return {
            "target": lambda: [machine.target(r[0], r[1]) for r in records],
            "validate": lambda: [_valid(machine, t, r[2]) for r, t in pairs],
            "plan_timers": lambda: [
                plan_timers(from_state=r[0], from_timers=r[4], to_state=t,
                            to_timers=subs[t].timers, event=r[1], event_time=r[3],
                            payload=r[2]) for r, t in pairs],
            "canonical payload": lambda: [canonical_json(r[2]) for r in records],
            "canonical statement": lambda: [canonical_json(s) for s in statements],
            "parse_rfc3339": lambda: [parse_rfc3339(t) for t in times],
            "whole record": lambda: [self.whole_record(r, s) for r, s in zip(
                records, statements, strict=True)],
        }

    def whole_record(self, record: tuple[Any, ...], statement: dict[str, Any]) -> object:
        """Every call above for one record, in `_judge`'s order."""
        from_state, event, payload, event_time, from_timers = record
        machine, subs = self.machine, self.catalogue.sub_states
        to_state = machine.target(from_state, event)
        _valid(machine, to_state, payload)
        plan = plan_timers(from_state=from_state, from_timers=from_timers, to_state=to_state,
                           to_timers=subs[to_state].timers, event=event,
                           event_time=event_time, payload=payload)
        return plan, canonical_json(payload), canonical_json(statement)


def _valid(machine: OrderMachine, sub_state: str, payload: Mapping[str, Any]) -> bool:
    machine.validate_payload(sub_state, payload)  # raises when invalid
    return True


def _best_us(call: Callable[[], object], repeat: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time_ns()
        for _ in range(repeat):
            call()
        best = min(best, (time.process_time_ns() - start) / repeat / 1000)
    return best


# --- fingerprint ---------------------------------------------------------------------

#: Inputs outside the scenarios' happy values: each step's answer to them is fingerprinted.
AWKWARD_TIMES: Final = (
    "2026-03-02T15:40:00+08:00", "2026-03-02t07:40:00z", "2026-03-02T07:40:00.123456789Z",
    "2026-03-02T07:40:00.5-01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00",
    "2026-03-02T15:40:00", "2026-03-02 15:40:00+08:00", "2026-02-30T00:00:00Z",
    "2026-03-02T24:00:00Z", "2026-03-02T15:40:60Z", "2026-03-02T15:40:00+24:00",
    "2026-03-02T15:40:00+08:60", "2026-03-02T15:40:00.Z", "２０２６-03-02T15:40:00Z",
    "2026-03-02T15:40:00Z\n", "2026-03-02T15:40:00-00:00", "",
)
AWKWARD_VALUES: Final[tuple[Any, ...]] = (
    {"b": 1, "a": [True, None, "x\u2028\x00\x1f\"\\"], "é": {"\ue000": 1, "\U0001f600": 2}},
    [2**53 - 1, -(2**53 - 1), 2**53, 0.1, 1e21, -0.0, 5e-324],
    {"k": float("nan")}, {1: 2}, "\ud800", {"\ud800": 1}, (1, 2), {"a": (1,)},
)


def _outcome(call: Callable[..., object], *args: Any, **kwargs: Any) -> str:
    """repr of `call(*args, **kwargs)`, or the type and message of what it raised."""
    try:
        return repr(call(*args, **kwargs))
    except Exception as exc:  # the error itself is the result here
        return f"{type(exc).__name__}: {exc}"


def fingerprint(catalogue: Catalogue) -> str:
    """SHA-256 over every step's result or error on all scenarios and awkward inputs."""
    machine, subs = get_machine(catalogue), catalogue.sub_states
    lines: list[str] = []
    for state in [None, *sorted(subs), "M99.99"]:
        lines += [_outcome(machine.target, state, event)
                  for event in [*sorted(catalogue.events), "nope"]]
    for scenario in SCENARIOS:
        state = None
        for step in scenario.steps:
            lines += [_outcome(machine.validate_payload, step.expect, payload)
                      for payload in [step.payload, *_mutations(step.payload)]]
            lines.append(_outcome(
                plan_timers, from_state=state,
                from_timers=() if state is None else subs[state].timers,
                to_state=step.expect, to_timers=subs[step.expect].timers, event=step.event,
                event_time=parse_rfc3339(step.at), payload=step.payload))
            lines.append(_outcome(canonical_json, dict(step.payload)))
            state = step.expect
    lines += [_outcome(parse_rfc3339, text) for text in AWKWARD_TIMES]
    lines += [_outcome(canonical_json, value) for value in AWKWARD_VALUES]
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8", "backslashreplace") + b"\n")
    return digest.hexdigest()


def _mutations(payload: Mapping[str, Any]) -> list[Any]:
    """A few invalid variants: a field dropped, a time broken, an unknown field, a list."""
    out: list[Any] = [[], {**payload, "zz_unknown": 1}]
    for key, value in payload.items():
        out.append({k: v for k, v in payload.items() if k != key})
        if isinstance(value, str) and value[:2] == "20":
            out.append({**payload, key: value.replace("T", " ")})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--only", help="run just this step --calls times (for cachegrind)")
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args(argv)
    mix = Mix(load_catalogue())
    calls = mix.calls()
    if args.only is not None:
        call = calls[args.only]
        call()  # warm up (the gate compiles on first use) so --calls 0 pays it too
        for _ in range(args.calls // len(mix.records)):
            call()
        return
    print(f"fingerprint {fingerprint(mix.catalogue)}")
    per_record = len(mix.records)
    for name, call in calls.items():
        us = _best_us(call, args.repeat, args.rounds) / per_record
        print(f"{name:20s} {us:8.2f} µs/record")


if __name__ == "__main__":
    main()
