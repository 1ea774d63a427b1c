"""Salts (spec §1): 16 bytes from the OS CSPRNG each, never the same twice — across the
draws that refill a thread's pool, across threads, and across a fork."""

from __future__ import annotations

import os
import threading

from ledger.canonical import SALT_SIZE, new_salt


def test_salts_are_16_bytes_and_never_repeat_across_refills() -> None:
    salts = [new_salt() for _ in range(5_000)]  # many pool refills
    assert {len(s) for s in salts} == {SALT_SIZE}
    assert len(set(salts)) == len(salts)


def test_threads_never_share_a_salt() -> None:
    found: list[list[bytes]] = [[] for _ in range(8)]

    def draw(into: list[bytes]) -> None:
        into.extend(new_salt() for _ in range(700))

    threads = [threading.Thread(target=draw, args=(into,)) for into in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [s for into in found for s in into]
    assert len(set(every)) == len(every) == 8 * 700


def test_a_forked_child_does_not_hand_out_its_parents_salts() -> None:
    new_salt()  # the parent's pool now holds salts it will hand out next
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits
        try:
            os.write(write, b"".join(new_salt() for _ in range(64)))
        finally:
            os._exit(0)
    os.close(write)
    received = b""
    while chunk := os.read(read, 65536):
        received += chunk
    os.close(read)
    os.waitpid(child, 0)
    childs = {received[i : i + SALT_SIZE] for i in range(0, len(received), SALT_SIZE)}
    parents = {new_salt() for _ in range(64)}
    assert len(childs) == 64
    assert not childs & parents
