"""Checkpoints: C2SP tlog-checkpoints in signed-note form (spec §4)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ledger.keys import LocalKey
from ledger.note import sign_note
from ledger.verify import (
    HASH_SIZE,
    NoteVerifier,
    parse_checkpoint_body,
    parse_note,
    verify_checkpoint,
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: origin, size and root, plus optional extension lines.

    Raises ValueError at construction for an empty or multi-line origin, a negative
    size, a root that is not 32 bytes or an empty or multi-line extension.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise ValueError("checkpoint origin must be one non-empty line")
        if self.size < 0:
            raise ValueError("checkpoint size must not be negative")
        if len(self.root) != HASH_SIZE:
            raise ValueError(f"checkpoint root must be {HASH_SIZE} bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise ValueError("checkpoint extension lines must be non-empty single lines")

    @classmethod
    def new(cls, origin: str, size: int, root: bytes, *, timestamp: str | None = None
            ) -> Checkpoint:
        """A checkpoint with a `timestamp <RFC 3339>` extension line when one is given."""
        return cls(origin, size, root, () if timestamp is None else (f"timestamp {timestamp}",))

    @property
    def timestamp(self) -> str | None:
        """The value of the `timestamp` extension line, if any."""
        for line in self.extensions:
            if line.startswith("timestamp "):
                return line.removeprefix("timestamp ")
        return None

    def body(self) -> str:
        """`origin\\nsize\\nb64 root\\n[extension\\n ...]`: the bytes the log key signs."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"),
                 *self.extensions]
        return "".join(f"{line}\n" for line in lines)

    def sign(self, key: LocalKey) -> str:
        """The signed-note text, signed by `key` under the origin as key name."""
        return sign_note(self.body(), self.origin, key)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint from signed-note text (or a bare body) WITHOUT checking any
        signature. Raises ledger.verify.BadCheckpoint / BadNote when it is malformed."""
        body = parse_note(text).body if "\n\n" in text else text
        head = parse_checkpoint_body(body)
        return cls(head.origin, head.size, head.root, head.extensions)

    @classmethod
    def verify(cls, text: str, verifier: NoteVerifier) -> Checkpoint:
        """Read a checkpoint whose signature by the log key `verifier` holds. Raises
        ledger.verify.BadCheckpoint otherwise."""
        head = verify_checkpoint(text, verifier)
        return cls(head.origin, head.size, head.root, head.extensions)
