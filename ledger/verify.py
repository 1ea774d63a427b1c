"""Offline verifier for orderledger evidence (spec/evidence-format.md, v1).

This one file is meant to be vendored: it imports only the standard library,
`cryptography` and `rfc8785`, nothing else of orderledger. It is therefore the single
home of the verification primitives (domain-separation constants, leaf/node/statement
hashes, payload digests, key ids, record signatures, RFC 9162 proof verification,
C2SP signed notes and checkpoints); the rest of `ledger` imports them from here.

Everything is pure: no database, no network, no clock. Failures are `VerificationError`
subclasses named for what broke; `verify_bundle` collects every failure it finds instead
of stopping at the first. The file is longer than our usual modules on purpose: splitting
it would break the one-file vendoring promise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

# rfc8785 directly, not statemodel.canonical: this file must stay importable on its own.
# Both call the same library, so the bytes are the same (a test checks it).
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# --- constants (spec §1, §3, §4) ----------------------------------------------------

RECORD_SIGNATURE_PREFIX: Final = b"orderledger.record.v1\x00"
LEAF_HASH_PREFIX: Final = b"\x00"
NODE_HASH_PREFIX: Final = b"\x01"
NOTE_ED25519_ALG: Final = b"\x01"  # C2SP signed-note signature type for Ed25519
NOTE_SIGNATURE_DASH: Final = "\u2014 "  # "— ": every signed-note signature line starts so
BUNDLE_FORMAT: Final = "orderledger.bundle.v1"
HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
GENESIS_PREV: Final = "0" * 64
STATEMENT_FIELDS: Final = (
    "v", "log", "kind", "tenant", "order", "seq", "prev", "from", "to", "event",
    "event_time", "recorded_at", "actor", "payload_digest", "model", "rules", "key_id",
)
STATEMENT_KINDS: Final = frozenset(
    {"transition", "sla_breach", "legal_hold", "legal_hold_release", "retention_purge"}
)
ACTOR_TYPES: Final = frozenset({"platform", "carrier", "system", "user"})
#: Payload field of a `retention_purge` record listing the seqs whose payloads it erased.
PURGE_ERASED_SEQS_FIELD: Final = "erased_seqs"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")  # ASCII only: \d would admit other digits
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


# --- errors ---------------------------------------------------------------------------
# The class names are fixed by STYLE.md §4 (BrokenLink, BadSignature, ...) and read as
# "what broke"; an Error suffix would add nothing, hence the N818 exemptions.

class VerificationError(Exception):
    """Root of every verification failure, each with a precise message."""


class MalformedBundle(VerificationError):
    """The input cannot be read as a bundle at all (the CLI's exit 2)."""


class MalformedTrustSet(MalformedBundle):
    """The trust set cannot be read (a MalformedBundle, so it also means exit 2)."""


class UntrustedKey(VerificationError):
    """Rule 0: a bundle key differs from, or is missing in, the trust set."""


class BadFormat(VerificationError):
    """Rule 1: wrong format tag, or a statement/entry without exactly the v1 fields."""


class BadCheckpoint(VerificationError):
    """Rule 2: the checkpoint is malformed, for another log, or not signed by the log key."""


class BadNote(VerificationError):
    """A C2SP signed note or verifier key is malformed, or its signature does not verify."""


class BadSignature(VerificationError):
    """Rule 3: a record signature does not verify, or its key may not sign at that time."""


class SequenceGap(VerificationError):
    """Rule 4: entries are not seq 0..n in order."""


class BrokenLink(VerificationError):
    """Rule 4: a `prev` does not link to the previous statement, or the chain is mixed."""


class BadPayloadDigest(VerificationError):
    """Rule 5: payload and salt do not hash to `payload_digest`."""


class IllegalTransitionInBundle(VerificationError):
    """Rule 6: no catalogue for `model`, or a record does not follow a catalogue edge."""


class BadInclusionProof(VerificationError):
    """Rule 7: an inclusion proof does not prove the leaf in the checkpoint's tree."""


class BadConsistencyProof(VerificationError):
    """Rule 8: the old checkpoint is not a prefix of the bundle's checkpoint."""


# --- hashing, digests, ids --------------------------------------------------------------

def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value; raises ValueError when JSON cannot carry it exactly."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"cannot canonicalize: {exc}") from exc


def leaf_hash(leaf_input: bytes) -> bytes:
    """RFC 9162 leaf hash H(0x00 || input); the input is a raw statement hash."""
    return hashlib.sha256(LEAF_HASH_PREFIX + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash H(0x01 || left || right)."""
    return hashlib.sha256(NODE_HASH_PREFIX + left + right).digest()


def statement_hash(statement_json: Mapping[str, Any]) -> bytes:
    """H(JCS(statement)), 32 bytes. Raises ValueError if it cannot be canonicalized."""
    return hashlib.sha256(canonical_json(statement_json)).digest()


def payload_digest(salt: bytes, payload: Any) -> str:
    """hex H(salt || JCS(payload)) (spec §1). Raises ValueError for a non-JSON payload."""
    return hashlib.sha256(salt + canonical_json(payload)).hexdigest()


def model_digest(catalogue: Any) -> str:
    """`sha256:` + hex H(JCS(catalogue)) (spec §5)."""
    return "sha256:" + hashlib.sha256(canonical_json(catalogue)).hexdigest()


def key_id(raw_public_key: bytes) -> str:
    """First 16 hex characters of H(raw 32-byte public key) (spec §3)."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def b64decode_strict(text: object, *, length: int | None = None) -> bytes:
    """Decode canonical standard base64 with padding; raises ValueError otherwise
    (non-alphabet characters, missing padding, non-zero pad bits, wrong length)."""
    if not isinstance(text, str):
        raise ValueError("base64 value must be a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"not base64: {text[:40]!r}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError(f"non-canonical base64: {text[:40]!r}")
    if length is not None and len(raw) != length:
        raise ValueError(f"expected {length} bytes, got {len(raw)}")
    return raw


def hash_from_hex(text: object) -> bytes:
    """A 32-byte hash from 64 lowercase hex characters; raises ValueError otherwise."""
    if not isinstance(text, str) or not _HEX64.fullmatch(text):
        raise ValueError(f"expected 64 lowercase hex characters, got {str(text)[:70]!r}")
    return bytes.fromhex(text)


def parse_instant(text: object) -> datetime | None:
    """An RFC 3339 timestamp with offset as an aware UTC datetime, or None if it is not one."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        return None
    head, dot, rest = text.upper().partition(".")
    if dot:  # datetime takes at most 6 fraction digits; more precision cannot matter here
        digits = re.match(r"[0-9]+", rest)
        assert digits is not None
        head = f"{head}.{digits.group()[:6]}{rest[digits.end():]}"
    try:
        return datetime.fromisoformat(head).astimezone(UTC)
    except ValueError:
        return None


# --- keys and record signatures (§3) ---------------------------------------------------

def verify_record_signature(public_key: bytes, statement_hash: bytes, signature: str) -> bool:
    """True when `signature` (b64 of 64 bytes) is Ed25519 over PREFIX || statement_hash
    by `public_key` (raw 32 bytes). Any malformed input gives False, never an exception."""
    try:
        raw = b64decode_strict(signature, length=64)
        key = Ed25519PublicKey.from_public_bytes(public_key)
        key.verify(raw, RECORD_SIGNATURE_PREFIX + statement_hash)
    except (ValueError, InvalidSignature):
        return False
    return True


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A record-signing key as published (§3, §6): raw public key and signing interval."""

    key_id: str
    public_key: bytes
    not_before: str
    not_after: str | None

    def may_sign_at(self, recorded_at: str) -> bool:
        """§3: not_before <= recorded_at and (not_after is null or recorded_at < not_after).
        False when any of the timestamps is not RFC 3339."""
        at, start = parse_instant(recorded_at), parse_instant(self.not_before)
        if at is None or start is None:
            return False
        if self.not_after is None:
            return start <= at
        end = parse_instant(self.not_after)
        return end is not None and start <= at < end

    def same_interval(self, other: PublishedKey) -> bool:
        """Both intervals denote the same instants (however the timestamps are spelt)."""
        def instant(text: str | None) -> object:
            return None if text is None else (parse_instant(text) or text)
        return (instant(self.not_before) == instant(other.not_before)
                and instant(self.not_after) == instant(other.not_after))

    def to_json(self) -> dict[str, Any]:
        """The §6 key object."""
        return {
            "key_id": self.key_id,
            "alg": "Ed25519",
            "public_key": base64.b64encode(self.public_key).decode("ascii"),
            "not_before": self.not_before,
            "not_after": self.not_after,
        }

    @classmethod
    def from_json(cls, obj: object) -> PublishedKey:
        """Read a §6 key object; raises ValueError unless it has exactly its fields, an
        Ed25519 key of 32 bytes whose id matches `key_id`, and RFC 3339 bounds."""
        if not isinstance(obj, Mapping):
            raise ValueError("key object must be a JSON object")
        expected = {"key_id", "alg", "public_key", "not_before", "not_after"}
        if set(obj) != expected:
            raise ValueError(f"key object fields must be {sorted(expected)}, got {sorted(obj)}")
        if obj["alg"] != "Ed25519":
            raise ValueError(f"key alg must be 'Ed25519', got {obj['alg']!r}")
        public = b64decode_strict(obj["public_key"], length=32)
        kid = obj["key_id"]
        if not isinstance(kid, str) or kid != key_id(public):
            raise ValueError(f"key_id {kid!r} is not the id of its public key ({key_id(public)})")
        if parse_instant(obj["not_before"]) is None:
            raise ValueError(f"key {kid}: not_before is not RFC 3339: {obj['not_before']!r}")
        if obj["not_after"] is not None and parse_instant(obj["not_after"]) is None:
            raise ValueError(f"key {kid}: not_after is not RFC 3339 or null")
        return cls(kid, public, obj["not_before"], obj["not_after"])


# --- RFC 9162 proof verification (§4) ---------------------------------------------------

def _require_hash(value: bytes, what: str, error: type[VerificationError]) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes) else type(value).__name__
        raise error(f"{what} must be {HASH_SIZE} bytes, got {size}")


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that `proof` yields for leaf hash `leaf` at `index` in a tree of `size`
    (RFC 9162 §2.1.3.2). Raises BadInclusionProof for index >= size, wrong-length hashes
    or a proof of the wrong length for this index and size."""
    if not 0 <= index < size:
        raise BadInclusionProof(f"leaf index {index} is outside a tree of size {size}")
    _require_hash(leaf, "leaf hash", BadInclusionProof)
    for n, element in enumerate(proof):
        _require_hash(element, f"proof element {n}", BadInclusionProof)
    fn, sn, r = index, size - 1, leaf
    for element in proof:
        if sn == 0:
            raise BadInclusionProof("inclusion proof has too many elements")
        if fn & 1 or fn == sn:
            r = node_hash(element, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, element)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise BadInclusionProof("inclusion proof has too few elements")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `proof` proves leaf hash `leaf` at `index` under `root` of a tree of
    `size` (RFC 9162 §2.1.3.2). Raises BadInclusionProof when it does not."""
    _require_hash(root, "root", BadInclusionProof)
    calculated = root_from_inclusion_proof(index, size, leaf, proof)
    if calculated != root:
        raise BadInclusionProof(
            f"proof for leaf {index} yields root {calculated.hex()}, expected {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (new_size, new_root) extends (old_size, old_root) (RFC 9162
    §2.1.4.2). Equal sizes need an empty proof and equal roots. Raises
    BadConsistencyProof otherwise, for wrong-length hashes, and for old_size 0 (a proof
    from the empty tree proves nothing, so it is rejected even between two empty trees)."""
    _require_hash(old_root, "old root", BadConsistencyProof)
    _require_hash(new_root, "new root", BadConsistencyProof)
    for n, element in enumerate(proof):
        _require_hash(element, f"proof element {n}", BadConsistencyProof)
    if old_size > new_size:
        raise BadConsistencyProof(f"old size {old_size} is larger than new size {new_size}")
    if old_size <= 0:
        raise BadConsistencyProof("a consistency proof from the empty tree proves nothing")
    if old_size == new_size:
        if proof:
            raise BadConsistencyProof("equal sizes need an empty proof")
        if old_root != new_root:
            raise BadConsistencyProof("equal sizes but different roots")
        return
    if not proof:
        raise BadConsistencyProof("empty consistency proof for different sizes")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # the old tree is a perfect subtree of the new one
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for element in path[1:]:
        if sn == 0:
            raise BadConsistencyProof("consistency proof has too many elements")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(element, fr), node_hash(element, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, element)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise BadConsistencyProof("consistency proof has too few elements")
    if fr != old_root:
        raise BadConsistencyProof(f"proof yields old root {fr.hex()}, expected {old_root.hex()}")
    if sr != new_root:
        raise BadConsistencyProof(f"proof yields new root {sr.hex()}, expected {new_root.hex()}")


# --- C2SP signed notes and checkpoints (§4) --------------------------------------------

def note_key_hash(name: str, public_key: bytes) -> bytes:
    """First 4 bytes of H(name || "\\n" || 0x01 || raw public key)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + NOTE_ED25519_ALG + public_key).digest()[:4]


def _check_note_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise BadNote(f"invalid key name {name!r}: empty, or contains a space or '+'")


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """An Ed25519 signed-note verifier key: name, 4-byte key hash, raw public key."""

    name: str
    key_hash: bytes
    public_key: bytes

    def vkey(self) -> str:
        """The text form `<name>+<hex key hash>+<b64(0x01 || public key)>`."""
        encoded = base64.b64encode(NOTE_ED25519_ALG + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"


def parse_vkey(vkey: str) -> NoteVerifier:
    """Read `<name>+<hex key hash>+<b64(0x01 || raw public key)>`. Raises BadNote when
    it is malformed, not Ed25519, or its key hash does not match name and key."""
    if not isinstance(vkey, str):
        raise BadNote("verifier key must be a string")
    parts = vkey.strip().split("+", 2)  # the base64 key itself may contain '+'
    if len(parts) != 3:
        raise BadNote(f"verifier key must be name+hash+key, got {vkey[:80]!r}")
    name, hash_hex, key_b64 = parts
    _check_note_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hash_hex):
        raise BadNote(f"verifier key hash must be 8 lowercase hex digits, got {hash_hex!r}")
    try:
        raw = b64decode_strict(key_b64, length=33)
    except ValueError as exc:
        raise BadNote(f"verifier key: {exc}") from None
    if raw[:1] != NOTE_ED25519_ALG:
        raise BadNote(f"verifier key algorithm {raw[0]} is not Ed25519 (1)")
    verifier = NoteVerifier(name, bytes.fromhex(hash_hex), raw[1:])
    if note_key_hash(name, verifier.public_key) != verifier.key_hash:
        raise BadNote(f"verifier key hash {hash_hex} does not match name and key")
    return verifier


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key hash, signature bytes."""

    name: str
    key_hash: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A parsed (not yet verified) note: its body text, ending in "\\n", and signatures."""

    body: str
    signatures: tuple[NoteSignature, ...]


def parse_note(text: str) -> SignedNote:
    """Split a signed note at its last blank line into body and signature lines.
    Raises BadNote when it has no signature block or a line is malformed."""
    if not isinstance(text, str):
        raise BadNote("a signed note must be text")
    if any(c < " " and c != "\n" for c in text):
        raise BadNote("a signed note may contain no control characters but newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise BadNote("no blank line before the signature lines")
    body, block = text[: split + 1], text[split + 2 :]
    if not block.endswith("\n"):
        raise BadNote("signature lines must end with a newline")
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith(NOTE_SIGNATURE_DASH):
            raise BadNote(f"signature line must start with '— ': {line[:60]!r}")
        name, space, encoded = line[len(NOTE_SIGNATURE_DASH):].partition(" ")
        if not space:
            raise BadNote(f"signature line has no signature: {line[:60]!r}")
        _check_note_name(name)
        try:
            raw = b64decode_strict(encoded)
        except ValueError as exc:
            raise BadNote(f"signature of {name}: {exc}") from None
        if len(raw) < 5:
            raise BadNote(f"signature of {name} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return SignedNote(body, tuple(signatures))


def verify_note(text: str, verifier: NoteVerifier) -> SignedNote:
    """Parse `text` and check it carries a valid signature by `verifier` over the body
    (every byte before the blank line). Lines from other keys are ignored. Raises
    BadNote when malformed, unsigned by this key, or when its signature does not verify."""
    note = parse_note(text)
    mine = [s for s in note.signatures
            if s.name == verifier.name and s.key_hash == verifier.key_hash]
    if not mine:
        raise BadNote(f"no signature by {verifier.name}+{verifier.key_hash.hex()}")
    key = Ed25519PublicKey.from_public_bytes(verifier.public_key)
    for signature in mine:
        try:
            key.verify(signature.signature, note.body.encode("utf-8"))
        except InvalidSignature:
            raise BadNote(f"signature by {verifier.name} does not verify") from None
    return note


@dataclass(frozen=True, slots=True)
class CheckpointBody:
    """A C2SP tlog-checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def parse_checkpoint_body(body: str) -> CheckpointBody:
    """Read `origin\\nsize\\nb64 root\\n[extension lines\\n]`. Raises BadCheckpoint for a
    missing line, a non-canonical decimal size, a root that is not 32 bytes of base64
    or an empty extension line."""
    if not body.endswith("\n"):
        raise BadCheckpoint("checkpoint body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise BadCheckpoint("checkpoint body needs origin, size and root lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise BadCheckpoint("checkpoint origin is empty")
    if not _DECIMAL.fullmatch(size_text):
        raise BadCheckpoint(f"checkpoint size is not a decimal number: {size_text[:30]!r}")
    try:
        root = b64decode_strict(root_text, length=HASH_SIZE)
    except ValueError as exc:
        raise BadCheckpoint(f"checkpoint root: {exc}") from None
    if any(not line for line in extensions):
        raise BadCheckpoint("checkpoint extension lines must not be empty")
    return CheckpointBody(origin, int(size_text), root, tuple(extensions))


def verify_checkpoint(text: str, verifier: NoteVerifier) -> CheckpointBody:
    """Verify a signed checkpoint under the log's verifier key and return its body.
    Raises BadCheckpoint when the note or body is bad or the origin is not the key name."""
    try:
        note = verify_note(text, verifier)
    except BadNote as exc:
        raise BadCheckpoint(f"checkpoint signature: {exc}") from None
    head = parse_checkpoint_body(note.body)
    if head.origin != verifier.name:
        raise BadCheckpoint(f"checkpoint origin {head.origin!r} is not the key name "
                            f"{verifier.name!r}")
    return head


def read_json(data: str | bytes, what: str = "bundle") -> Any:
    """Parse JSON strictly: duplicate object keys and NaN/Infinity are refused, since
    another verifier could read them differently. Raises MalformedBundle."""
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise MalformedBundle(f"{what}: duplicate key in a JSON object")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise MalformedBundle(f"{what}: {name} is not JSON")

    try:
        return json.loads(data, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBundle(f"{what} is not JSON: {exc}") from None


# --- trust set and report (§7) -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TrustSet:
    """The ledger's published keys, obtained out of band (`orderledger keys export`)."""

    log_key: NoteVerifier
    keys: tuple[PublishedKey, ...]

    def key(self, kid: str) -> PublishedKey | None:
        """The trusted key with this id, or None."""
        return next((k for k in self.keys if k.key_id == kid), None)

    def to_json(self) -> dict[str, Any]:
        return {"log_key": self.log_key.vkey(), "keys": [k.to_json() for k in self.keys]}

    @classmethod
    def from_json(cls, obj: object) -> TrustSet:
        """Read `{"log_key": "<vkey>", "keys": [key objects]}`. Raises MalformedTrustSet
        naming the part that cannot be read."""
        if not isinstance(obj, Mapping) or not isinstance(obj.get("keys"), list):
            raise MalformedTrustSet('trust set must be {"log_key": ..., "keys": [...]}')
        try:
            log_key = parse_vkey(obj.get("log_key"))  # type: ignore[arg-type]
        except BadNote as exc:
            raise MalformedTrustSet(f"trust set log_key: {exc}") from None
        keys = []
        for n, item in enumerate(obj["keys"]):
            try:
                keys.append(PublishedKey.from_json(item))
            except ValueError as exc:
                raise MalformedTrustSet(f"trust set keys[{n}]: {exc}") from None
        ids = [k.key_id for k in keys]
        if len(set(ids)) != len(ids):
            raise MalformedTrustSet("trust set lists a key_id twice")
        return cls(log_key, tuple(keys))


@dataclass(frozen=True, slots=True)
class Failure:
    """One broken rule of §7. `entry` is the position in `entries` (None: the bundle as a
    whole); `error` is the name of the VerificationError subclass for what broke."""

    rule: int
    entry: int | None
    message: str
    error: str = "VerificationError"

    def __str__(self) -> str:
        where = "bundle" if self.entry is None else f"entry {self.entry}"
        return f"rule {self.rule} [{where}] {self.error}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """`ok` is true exactly when `failures` is empty. `fingerprints` name the keys the
    result relies on; `warnings` say what the result does not establish."""

    ok: bool
    failures: tuple[Failure, ...]
    warnings: tuple[str, ...]
    fingerprints: tuple[str, ...]


# --- the state catalogue, as far as rule 6 needs it (§5) -------------------------------

@dataclass(frozen=True, slots=True)
class _Catalogue:
    codes: frozenset[str]
    initial: frozenset[str]
    final: frozenset[str]
    edges: tuple[tuple[str, frozenset[str] | None, str], ...]  # None: "*", every non-final
    creations: frozenset[tuple[str, str]] | None

    @classmethod
    def read(cls, doc: object) -> _Catalogue:
        """Raises ValueError when `sub_states` / `transitions` / `creations` are not as §5."""
        if not isinstance(doc, Mapping):
            raise ValueError("catalogue is not a JSON object")
        subs, transitions = doc.get("sub_states"), doc.get("transitions")
        if not isinstance(subs, list) or not isinstance(transitions, list):
            raise ValueError("catalogue needs lists 'sub_states' and 'transitions'")
        codes, initial, final = set(), set(), set()
        for s in subs:
            if not (isinstance(s, Mapping) and isinstance(s.get("code"), str)
                    and isinstance(s.get("initial"), bool) and isinstance(s.get("final"), bool)):
                raise ValueError("sub_states items need code (string), initial and final (bool)")
            codes.add(s["code"])
            if s["initial"]:
                initial.add(s["code"])
            if s["final"]:
                final.add(s["code"])
        edges: list[tuple[str, frozenset[str] | None, str]] = []
        for t in transitions:
            if not (isinstance(t, Mapping) and isinstance(t.get("event"), str)
                    and isinstance(t.get("to"), str)):
                raise ValueError("transitions items need event and to (strings)")
            source = t.get("from")
            if source == "*":
                edges.append((t["event"], None, t["to"]))
            elif isinstance(source, list) and all(isinstance(c, str) for c in source):
                edges.append((t["event"], frozenset(source), t["to"]))
            else:
                raise ValueError(f"transition {t['event']!r}: from must be a list of codes or '*'")
        creations = None
        if "creations" in doc:
            items = doc["creations"]
            if not isinstance(items, list) or not all(
                isinstance(c, Mapping) and isinstance(c.get("event"), str)
                and isinstance(c.get("to"), str) for c in items
            ):
                raise ValueError("creations must be a list of {event, to}")
            creations = frozenset((c["event"], c["to"]) for c in items)
        return cls(frozenset(codes), frozenset(initial), frozenset(final), tuple(edges), creations)

    def allows(self, source: str, event: str, target: str) -> bool:
        for name, sources, to in self.edges:
            if name != event or to != target:
                continue
            if sources is None and source in self.codes and source not in self.final:
                return True
            if sources is not None and source in sources:
                return True
        return False


# --- verify_bundle -----------------------------------------------------------------------

_ENTRY_FIELDS: Final = ("statement", "signature", "payload", "salt", "leaf_index",
                        "inclusion_proof")
_BUNDLE_STRINGS: Final = ("log", "tenant", "order", "exported_at", "log_key", "checkpoint")


def _statement_problems(st: object) -> list[str]:
    """What makes `st` not a v1 statement with exactly the fields of §1 (rule 1)."""
    if not isinstance(st, Mapping):
        return ["statement is not a JSON object"]
    missing = [f for f in STATEMENT_FIELDS if f not in st]
    extra = sorted(set(st) - set(STATEMENT_FIELDS))
    if missing or extra:
        return [f"statement fields: missing {missing}, unexpected {extra}"]
    problems = []
    if type(st["v"]) is not int or st["v"] != 1:
        problems.append(f"v must be 1, got {st['v']!r}")
    if type(st["seq"]) is not int or st["seq"] < 0:
        problems.append(f"seq must be a non-negative integer, got {st['seq']!r}")
    for name in ("log", "kind", "tenant", "order", "prev", "to", "event", "event_time",
                 "recorded_at", "payload_digest", "model", "rules", "key_id"):
        if not isinstance(st[name], str):
            problems.append(f"{name} must be a string")
    if st["from"] is not None and not isinstance(st["from"], str):
        problems.append("from must be a string or null")
    if problems:
        return problems
    checks = [
        (st["kind"] in STATEMENT_KINDS, f"unknown kind {st['kind']!r}"),
        (bool(_HEX64.fullmatch(st["prev"])), "prev is not 64 lowercase hex characters"),
        (bool(_HEX64.fullmatch(st["payload_digest"])), "payload_digest is not 64 hex characters"),
        (st["model"].startswith("sha256:") and bool(_HEX64.fullmatch(st["model"][7:])),
         "model is not sha256:<64 hex>"),
        (bool(_KEY_ID.fullmatch(st["key_id"])), "key_id is not 16 lowercase hex characters"),
        (bool(re.fullmatch(r"[^@]+@[^@]+", st["rules"])), "rules is not name@version"),
    ]
    for name in ("event_time", "recorded_at"):
        ok = parse_instant(st[name]) is not None and st[name].upper().endswith("Z")
        checks.append((ok, f"{name} is not an RFC 3339 UTC time with Z: {st[name]!r}"))
    actor = st["actor"]
    checks.append((isinstance(actor, Mapping) and set(actor) == {"type", "id"}
                   and actor["type"] in ACTOR_TYPES and isinstance(actor["id"], str),
                   f"actor must be {{type: {sorted(ACTOR_TYPES)}, id: string}}"))
    return [message for ok, message in checks if not ok]


class _Run:
    """One verification: reads the bundle once, then checks each rule, collecting failures."""

    def __init__(self, bundle: Mapping[str, Any], entries: list[Mapping[str, Any]]) -> None:
        self.bundle = bundle
        self.entries = entries
        self.failures: list[Failure] = []
        self.warnings: list[str] = []
        self.statements: list[Mapping[str, Any] | None] = [
            e.get("statement") if isinstance(e.get("statement"), Mapping) else None
            for e in entries
        ]
        self.hashes: list[bytes | None] = []
        self.keys: dict[str, PublishedKey] = {}
        self.log_verifier: NoteVerifier | None = None
        self.head: CheckpointBody | None = None

    def fail(self, rule: int, entry: int | None, error: type[VerificationError], msg: str) -> None:
        self.failures.append(Failure(rule, entry, msg, error.__name__))

    def field(self, i: int, name: str) -> Any:
        st = self.statements[i]
        return None if st is None else st.get(name)

    def rule1_format(self) -> None:
        if self.bundle.get("format") != BUNDLE_FORMAT:
            self.fail(1, None, BadFormat, f"format must be {BUNDLE_FORMAT!r}, "
                      f"got {self.bundle.get('format')!r}")
        for name in _BUNDLE_STRINGS:
            if not isinstance(self.bundle.get(name), str):
                self.fail(1, None, BadFormat, f"bundle field {name!r} must be a string")
        for name in ("keys", "models"):
            if not isinstance(self.bundle.get(name), list):
                self.fail(1, None, BadFormat, f"bundle field {name!r} must be a list")
        for i, entry in enumerate(self.entries):
            missing = [f for f in _ENTRY_FIELDS if f not in entry]
            if missing:
                self.fail(1, i, BadFormat, f"entry lacks {missing}")
            extra = sorted(set(entry) - set(_ENTRY_FIELDS))
            if extra:
                self.warnings.append(f"entry {i}: fields {extra} are not part of v1; ignored")
            for problem in _statement_problems(entry.get("statement")):
                self.fail(1, i, BadFormat, problem)
        for i, st in enumerate(self.statements):
            digest = None
            if st is not None:
                try:
                    digest = statement_hash(st)
                except ValueError as exc:
                    self.fail(1, i, BadFormat, f"statement {exc}")
            self.hashes.append(digest)
        items = self.bundle.get("keys")
        for n, item in enumerate(items if isinstance(items, list) else []):
            try:
                key = PublishedKey.from_json(item)
            except ValueError as exc:
                self.fail(1, None, BadFormat, f"keys[{n}]: {exc}")
                continue
            if key.key_id in self.keys and self.keys[key.key_id] != key:
                self.fail(1, None, BadFormat, f"keys lists {key.key_id} twice, differently")
            self.keys[key.key_id] = key

    def rule2_checkpoint(self) -> None:
        log = self.bundle.get("log")
        try:
            self.log_verifier = parse_vkey(self.bundle.get("log_key"))  # type: ignore[arg-type]
        except BadNote as exc:
            self.fail(2, None, BadCheckpoint, f"log_key: {exc}")
        if self.log_verifier is not None and self.log_verifier.name != log:
            self.fail(2, None, BadCheckpoint,
                      f"log_key name {self.log_verifier.name!r} is not the log {log!r}")
        text = self.bundle.get("checkpoint")
        try:
            # Read the body even if the signature fails, so rule 7 still reports on proofs.
            self.head = parse_checkpoint_body(parse_note(text).body)  # type: ignore[arg-type]
        except (BadNote, BadCheckpoint) as exc:
            self.fail(2, None, BadCheckpoint, f"checkpoint unreadable: {exc}")
            return
        if self.head.origin != log:
            self.fail(2, None, BadCheckpoint,
                      f"checkpoint origin {self.head.origin!r} is not the log {log!r}")
        if self.log_verifier is not None:
            try:
                verify_note(text, self.log_verifier)  # type: ignore[arg-type]
            except BadNote as exc:
                self.fail(2, None, BadCheckpoint, f"checkpoint not signed by log_key: {exc}")

    def rule3_signatures(self) -> None:
        for i, entry in enumerate(self.entries):
            kid, digest = self.field(i, "key_id"), self.hashes[i]
            if not isinstance(kid, str) or digest is None:
                continue
            key = self.keys.get(kid)
            if key is None:
                self.fail(3, i, BadSignature, f"no usable key {kid} in the bundle's keys")
                continue
            if not verify_record_signature(key.public_key, digest, entry.get("signature")):  # type: ignore[arg-type]
                self.fail(3, i, BadSignature,
                          f"signature does not verify under key {kid} (statement hash "
                          f"{digest.hex()})")
            recorded_at = self.field(i, "recorded_at")
            if not key.may_sign_at(recorded_at):
                self.fail(3, i, BadSignature,
                          f"key {kid} may sign only in [{key.not_before}, "
                          f"{key.not_after or 'open'}), not at recorded_at {recorded_at}")

    def rule4_chain(self) -> None:
        if not self.entries:
            self.fail(4, None, SequenceGap, "bundle has no entries: a chain starts at seq 0")
        for i in range(len(self.entries)):
            if self.statements[i] is None:
                continue
            seq = self.field(i, "seq")
            if seq != i or type(seq) is not int:
                self.fail(4, i, SequenceGap, f"expected seq {i}, found {seq!r}")
            for name in ("tenant", "order", "log"):
                if self.field(i, name) != self.bundle.get(name):
                    self.fail(4, i, BrokenLink, f"{name} {self.field(i, name)!r} is not the "
                              f"bundle's {self.bundle.get(name)!r}")
            previous = GENESIS_PREV if i == 0 else self.hashes[i - 1]
            expected = previous.hex() if isinstance(previous, bytes) else previous
            if expected is not None and self.field(i, "prev") != expected:
                self.fail(4, i, BrokenLink, f"prev {self.field(i, 'prev')!r} does not link to "
                          f"the previous statement hash {expected}")

    def rule5_payloads(self) -> None:
        for i, entry in enumerate(self.entries):
            payload, salt = entry.get("payload"), entry.get("salt")
            if payload is None and salt is None:
                continue  # erased under retention: the digest stays, nothing to compare
            if payload is None or salt is None:
                self.fail(5, i, BadPayloadDigest, "payload and salt must both be null or both set")
                continue
            try:
                digest = payload_digest(b64decode_strict(salt, length=16), payload)
            except ValueError as exc:
                self.fail(5, i, BadPayloadDigest, f"salt or payload unreadable: {exc}")
                continue
            if digest != self.field(i, "payload_digest"):
                self.fail(5, i, BadPayloadDigest,
                          f"H(salt || JCS(payload)) is {digest}, statement says "
                          f"{self.field(i, 'payload_digest')}")

    def _catalogues(self) -> dict[str, _Catalogue | None]:
        found: dict[str, _Catalogue | None] = {}
        models = self.bundle.get("models")
        for n, doc in enumerate(models if isinstance(models, list) else []):
            try:
                digest = model_digest(doc)
                found[digest] = _Catalogue.read(doc)
            except ValueError as exc:
                self.fail(6, None, IllegalTransitionInBundle, f"models[{n}] unusable: {exc}")
        return found

    def rule6_transitions(self) -> None:
        catalogues = self._catalogues()
        for i in range(len(self.entries)):
            st = self.statements[i]
            if st is None or _statement_problems(st):
                continue  # rule 1 reported it; its fields cannot be read reliably
            if st["model"] not in catalogues:
                self.fail(6, i, IllegalTransitionInBundle,
                          f"no catalogue in models has digest {st['model']}")
                continue
            cat = catalogues[st["model"]]
            if cat is not None:
                for problem in self._transition_problems(i, st, cat):
                    self.fail(6, i, IllegalTransitionInBundle, problem)

    def _transition_problems(self, i: int, st: Mapping[str, Any], cat: _Catalogue) -> list[str]:
        source, target, event, kind = st["from"], st["to"], st["event"], st["kind"]
        problems = [f"unknown sub-state {c!r}" for c in (source, target)
                    if c is not None and c not in cat.codes]
        if st["seq"] == 0:
            if source is not None:
                problems.append("seq 0 must have from null")
            if target not in cat.initial:
                problems.append(f"seq 0 must start in an initial sub-state, not {target!r}")
            if cat.creations is not None and (event, target) not in cat.creations:
                problems.append(f"seq 0: ({event!r} -> {target!r}) is not a creation")
        elif source is None:
            problems.append("from is null, which only seq 0 may have")
        else:
            previous = self.statements[i - 1] if i > 0 else None
            if previous is not None and previous.get("to") != source:
                problems.append(f"from {source!r} is not where the previous record ended "
                                f"({previous.get('to')!r})")
            if kind == "transition" and not cat.allows(source, event, target):
                problems.append(f"{source} --{event}--> {target} is not an edge of {st['model']}")
        if kind != "transition" and target != source:
            problems.append(f"a {kind} record must keep to == from ({source!r} -> {target!r})")
        return problems

    def rule7_inclusion(self) -> None:
        if self.head is None:
            self.fail(7, None, BadInclusionProof, "no readable checkpoint to prove inclusion in")
            return
        for i, entry in enumerate(self.entries):
            index, proof = entry.get("leaf_index"), entry.get("inclusion_proof")
            if type(index) is not int or not 0 <= index < self.head.size:
                self.fail(7, i, BadInclusionProof, f"leaf_index {index!r} is not an index in "
                          f"the checkpoint's tree of size {self.head.size}")
                continue
            try:
                if not isinstance(proof, list):
                    raise ValueError("inclusion_proof must be a list")
                path = [hash_from_hex(h) for h in proof]
            except ValueError as exc:
                self.fail(7, i, BadInclusionProof, f"inclusion_proof: {exc}")
                continue
            digest = self.hashes[i]
            if digest is None:
                continue
            try:
                verify_inclusion(index, self.head.size, leaf_hash(digest), path, self.head.root)
            except BadInclusionProof as exc:
                self.fail(7, i, BadInclusionProof, str(exc))

    def warn_unexplained_erasures(self) -> None:
        """Not a rule of §7 (erased payloads verify): warn when an erased payload is not
        named in `erased_seqs` by a later `retention_purge` entry of the bundle, since the
        ledger erases only so and a DBA's erasure looks the same to rule 5."""
        named: set[int] = set()
        for i in reversed(range(len(self.entries))):
            entry, kind = self.entries[i], self.field(i, "kind")
            if kind == "retention_purge" and isinstance(entry.get("payload"), Mapping):
                seqs = entry["payload"].get(PURGE_ERASED_SEQS_FIELD)
                named |= {s for s in seqs if type(s) is int} if isinstance(seqs, list) else set()
            erased = entry.get("payload") is None and entry.get("salt") is None
            if erased and self.field(i, "seq") not in named:
                self.warnings.append(f"entry {i}: payload erased, but no later "
                                     "retention_purge entry names its seq")

    def rule0_trust(self, trust: TrustSet) -> None:
        if self.log_verifier != trust.log_key:
            self.fail(0, None, UntrustedKey, f"log_key {str(self.bundle.get('log_key'))[:90]!r} "
                      f"is not the trusted log key {trust.log_key.vkey()}")
        used: dict[str, list[int]] = {}
        for i in range(len(self.entries)):
            kid = self.field(i, "key_id")
            if isinstance(kid, str):
                used.setdefault(kid, []).append(i)
        for kid, positions in sorted(used.items()):
            trusted, carried = trust.key(kid), self.keys.get(kid)
            if trusted is None:
                self.fail(0, None, UntrustedKey, f"key {kid} (entries {positions}) is not in "
                          "the trust set")
            elif carried is not None and carried.public_key != trusted.public_key:
                self.fail(0, None, UntrustedKey,
                          f"key {kid}: public key differs from the trust set")
            elif carried is not None and not carried.same_interval(trusted):
                self.fail(0, None, UntrustedKey,
                          f"key {kid}: interval [{carried.not_before}, "
                          f"{carried.not_after or 'open'}) differs from trusted "
                          f"[{trusted.not_before}, {trusted.not_after or 'open'})")

    def rule8_consistency(self, verifier: NoteVerifier | None, old_text: str | None,
                          proof_obj: object) -> None:
        def fail(message: str) -> None:
            self.fail(8, None, BadConsistencyProof, message)

        if old_text is None:
            fail("a consistency proof was given without the old checkpoint")
            return
        if verifier is None or self.head is None:
            fail("no usable log key or bundle checkpoint to check the old checkpoint against")
            return
        try:
            old = verify_checkpoint(old_text, verifier)
        except BadCheckpoint as exc:
            fail(f"old checkpoint: {exc}")
            return
        if old.origin != self.head.origin:
            fail(f"old checkpoint is for log {old.origin!r}, not {self.head.origin!r}")
        if proof_obj is None:
            proof_obj = {"old_size": old.size, "new_size": self.head.size, "proof": []}
        if not (isinstance(proof_obj, Mapping) and type(proof_obj.get("old_size")) is int
                and type(proof_obj.get("new_size")) is int
                and isinstance(proof_obj.get("proof"), list)):
            fail('consistency proof must be {"old_size": n, "new_size": m, "proof": [hex...]}')
            return
        if (proof_obj["old_size"], proof_obj["new_size"]) != (old.size, self.head.size):
            fail(f"proof is for sizes {proof_obj['old_size']} -> {proof_obj['new_size']}, "
                 f"checkpoints are {old.size} -> {self.head.size}")
            return
        try:
            path = [hash_from_hex(h) for h in proof_obj["proof"]]
            verify_consistency(old.size, self.head.size, old.root, self.head.root, path)
        except (ValueError, BadConsistencyProof) as exc:
            fail(f"old checkpoint ({old.size}) is not a prefix of the bundle's "
                 f"({self.head.size}): {exc}")

    def fingerprints(self) -> list[str]:
        prints = [] if self.log_verifier is None else [f"log key {self.log_verifier.vkey()}"]
        used = {self.field(i, "key_id") for i in range(len(self.entries))}
        for kid in sorted(k for k in self.keys if k in used):
            encoded = base64.b64encode(self.keys[kid].public_key).decode("ascii")
            prints.append(f"record key {kid} (Ed25519 public key {encoded})")
        return prints


def verify_bundle(
    bundle: object,
    *,
    trust: TrustSet | None = None,
    old_checkpoint: str | None = None,
    consistency_proof: object | None = None,
) -> VerificationReport:
    """Check every rule of spec §7 (0–8) against a parsed bundle and report each failure.

    Rule 0 runs only with a `trust` set; without one the report warns that the result
    holds only if the fingerprinted keys are the ledger's. Rule 8 runs when an old
    checkpoint (signed-note text) or a consistency proof (`{"old_size", "new_size",
    "proof"}`) is given; equal sizes need no proof. Pure: no I/O, no clock.

    Raises MalformedBundle only when the input cannot be read as a bundle at all (not a
    JSON object, or `entries` not a list of objects); everything else is a Failure.
    """
    if not isinstance(bundle, Mapping):
        raise MalformedBundle(f"a bundle is a JSON object, not {type(bundle).__name__}")
    entries = bundle.get("entries")
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise MalformedBundle("bundle 'entries' must be a list of objects")
    run = _Run(bundle, entries)
    run.rule1_format()
    run.rule2_checkpoint()
    run.rule3_signatures()
    run.rule4_chain()
    run.rule5_payloads()
    run.rule6_transitions()
    run.rule7_inclusion()
    run.warn_unexplained_erasures()
    if trust is not None:
        run.rule0_trust(trust)
    else:
        run.warnings.append(
            "no trust set given: this result holds only if these keys are the ledger's "
            "published keys (compare them with a key set obtained elsewhere): "
            + "; ".join(run.fingerprints() or ["none readable"])
        )
    if old_checkpoint is not None or consistency_proof is not None:
        verifier = trust.log_key if trust is not None else run.log_verifier
        run.rule8_consistency(verifier, old_checkpoint, consistency_proof)
    failures = sorted(run.failures, key=lambda f: (f.rule, -1 if f.entry is None else f.entry))
    return VerificationReport(
        ok=not failures,
        failures=tuple(failures),
        warnings=tuple(run.warnings),
        fingerprints=tuple(run.fingerprints()),
    )
