"""Signing C2SP signed notes (the checkpoint envelope of spec §4).

Verification of notes lives in `ledger.verify`; this module only produces them.
"""

from __future__ import annotations

import base64

from ledger.keys import LocalKey
from ledger.verify import NOTE_SIGNATURE_DASH, NoteVerifier, note_key_hash


def vkey(name: str, public_bytes: bytes) -> str:
    """The verifier key text `<name>+<hex key hash>+<b64(0x01 || raw public key)>`."""
    return NoteVerifier(name, note_key_hash(name, public_bytes), public_bytes).vkey()


def sign_note(body: str, name: str, key: LocalKey) -> str:
    """The signed note: `body`, a blank line, and `— <name> <b64(key hash || sig)>`.

    The Ed25519 signature covers every byte of `body` (which must end with a newline).
    Raises ValueError for a body without a final newline, with a blank line at its end
    or control characters, or a name that is empty or holds a space or '+'.
    """
    if not body.endswith("\n") or body.endswith("\n\n") or body == "\n":
        raise ValueError("note body must be non-empty text ending in exactly one newline")
    if any(c < " " and c != "\n" for c in body):
        raise ValueError("note body may hold no control characters but newline")
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ValueError(f"invalid note key name {name!r}")
    signature = key.sign_raw(body.encode("utf-8"))
    blob = base64.b64encode(note_key_hash(name, key.public_bytes) + signature).decode("ascii")
    return f"{body}\n{NOTE_SIGNATURE_DASH}{name} {blob}\n"
