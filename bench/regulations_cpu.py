"""CPU of the regulation steps of one append, and a fingerprint of their results.

    .venv/bin/python bench/regulations_cpu.py [--rounds N] [--repeat R]

Times, per record and in CPU (process time), what `AppendService._judge` does with the
regulation pack: build the `Proposal`, read the stored facts (`OrderFacts.from_json`),
`pack.evaluate`, `facts.advance` and `to_json`. Two record mixes:

- `hub_scan`: the self-loop on M05.02 that dominates bench/append.py's stream, with the
  facts of an order brought there by the domestic happy path;
- `happy path`: every step of `statemodel.scenarios.DOMESTIC_HAPPY_PATH` in turn.

Each step is timed over `repeat` calls, and the best of `rounds` rounds is kept (the
machine is shared: the minimum is the least disturbed). It also prints a fingerprint
(SHA-256) of every verdict and every folded facts document over ALL scenarios, so a
change that makes the steps cheaper can show it changed no result: the fingerprint
must be the same before and after. To compare with an older copy of the package, run
from another folder with `PYTHONPATH=<folder holding that regulations/>`; alternate
the two runs, as the machine's load wanders.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

# Run as a script (`python bench/regulations_cpu.py`), the folder on sys.path is bench/.
sys.path.append(str(Path(__file__).resolve().parent.parent))

from ledger.timefmt import format_time, parse_time
from regulations.facts import OrderFacts
from regulations.model import Pack
from regulations.proposal import Proposal
from regulations.registry import pack_in_force
from statemodel.catalogue import Catalogue, load_catalogue
from statemodel.machine import get_machine
from statemodel.scenarios import DOMESTIC_HAPPY_PATH, SCENARIOS, Scenario, Step

STEPS: Final = ("proposal", "from_json", "evaluate", "advance", "to_json")
#: The ledger's clock runs a minute after each event (as a live feed would).
CLOCK_LAG: Final = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Record:
    """Everything `_judge` has before it calls into the regulations package."""

    kind: str
    event: str
    from_state: str | None
    to_state: str
    event_time: datetime
    now: datetime
    payload: dict[str, Any]
    stored_facts: dict[str, Any] | None  # head.facts; None for a creation


def _records(scenario: Scenario, catalogue: Catalogue) -> list[Record]:
    """The scenario's steps as the append service sees them, each with its stored facts."""
    machine = get_machine(catalogue)
    facts, state, out = OrderFacts.initial(), None, []
    for step in scenario.steps:
        record = _record(step, state, facts, catalogue)
        out.append(record)
        facts = facts.advance(_proposal(record, catalogue))
        state = machine.target(state, step.event)
    return out


def _record(step: Step, state: str | None, facts: OrderFacts, catalogue: Catalogue) -> Record:
    target = get_machine(catalogue).target(state, step.event)
    at = parse_time(format_time(parse_time(step.at, field="at")))
    return Record("transition", step.event, state, target, at,
                  at + CLOCK_LAG,
                  dict(step.payload), None if state is None else facts.to_json())


def _proposal(record: Record, catalogue: Catalogue) -> Proposal:
    return Proposal(kind=record.kind, event=record.event, from_state=record.from_state,
                    to_state=record.to_state, event_time=record.event_time, now=record.now,
                    catalogue=catalogue, payload=record.payload, actor_type="carrier",
                    actor_id="sf-express")


def _facts(record: Record) -> OrderFacts:
    stored = record.stored_facts
    return OrderFacts.initial() if stored is None else OrderFacts.from_json(stored)


def _best_us(call: Callable[[], object], calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time_ns()
        for _ in range(calls):
            call()
        best = min(best, (time.process_time_ns() - start) / calls / 1000)
    return best


def time_steps(records: list[Record], catalogue: Catalogue, pack: Pack, *, repeat: int,
               rounds: int) -> dict[str, float]:
    """Mean CPU µs per record of each step over `records` (best round of each)."""
    facts = [_facts(r) for r in records]
    advanced = [f.advance(_proposal(r, catalogue)) for r, f in zip(records, facts, strict=True)]
    calls: dict[str, Callable[[], object]] = {
        # Each call builds a fresh proposal, as every append does: nothing carries over.
        "proposal": lambda: [_proposal(r, catalogue) for r in records],
        "from_json": lambda: [_facts(r) for r in records],
        "evaluate": lambda: [
            pack.evaluate(_proposal(r, catalogue), f) for r, f in zip(records, facts, strict=True)
        ],
        "advance": lambda: [
            f.advance(_proposal(r, catalogue)) for r, f in zip(records, facts, strict=True)
        ],
        "to_json": lambda: [f.to_json() for f in advanced],
        "all five": lambda: [
            _judge_like(r, catalogue, pack) for r in records
        ],
    }
    results = {name: _best_us(call, repeat, rounds) / len(records) for name, call in calls.items()}
    # evaluate and advance above include a fresh proposal each: report them net of it.
    results["evaluate"] -= results["proposal"]
    results["advance"] -= results["proposal"]
    return results


def _judge_like(record: Record, catalogue: Catalogue, pack: Pack) -> dict[str, Any]:
    proposal = _proposal(record, catalogue)
    facts = _facts(record)
    pack.evaluate(proposal, facts).raise_for_blocks()
    return facts.advance(proposal).to_json()


def fingerprint(catalogue: Catalogue, pack: Pack) -> tuple[str, int, int]:
    """SHA-256 over every verdict and folded facts document of every scenario (and of
    each step re-judged against facts of a different scenario, to exercise findings);
    plus how many block and flag findings went into it."""
    digest = hashlib.sha256()
    blocks = flags = 0
    all_records = [r for scenario in SCENARIOS for r in _records(scenario, catalogue)]
    stored = [r.stored_facts for r in all_records]
    for index, record in enumerate(all_records):
        # The record's own facts, and (to exercise findings) another record's facts.
        for facts_doc in (record.stored_facts, stored[(index * 7 + 3) % len(stored)]):
            proposal = _proposal(record, catalogue)
            facts = OrderFacts.initial() if facts_doc is None else OrderFacts.from_json(facts_doc)
            verdict = pack.evaluate(proposal, facts)
            blocks, flags = blocks + len(verdict.blocks), flags + len(verdict.flags)
            document = {
                "blocks": [f.to_json() for f in verdict.blocks],
                "flags": [f.to_json() for f in verdict.flags],
                "facts": facts.advance(proposal).to_json(),
            }
            digest.update(json.dumps(document, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest(), blocks, flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    catalogue = load_catalogue()
    happy = _records(DOMESTIC_HAPPY_PATH, catalogue)
    pack = pack_in_force(happy[0].event_time)
    hub = next(r for r in happy if r.event == "hub_scan" and r.from_state == r.to_state)
    mixes = {"hub_scan": [hub], "happy path": happy}
    print(f"pack {pack}; CPU µs per record, best of {args.rounds} rounds of {args.repeat}")
    print(f"{'mix':12s}" + "".join(f"{step:>11s}" for step in (*STEPS, "all five")))
    for name, records in mixes.items():
        found = time_steps(records, catalogue, pack, repeat=args.repeat, rounds=args.rounds)
        print(f"{name:12s}" + "".join(f"{found[step]:11.1f}" for step in (*STEPS, "all five")))
    digest, blocks, flags = fingerprint(catalogue, pack)
    print(f"fingerprint {digest} ({blocks} block, {flags} flag findings)")


if __name__ == "__main__":
    main()
