"""Key store, key ids, record signatures, published-key intervals, notes, checkpoints."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import verify
from ledger.canonical import new_salt, payload_digest, statement_hash
from ledger.checkpoint import Checkpoint
from ledger.errors import KeyStoreError
from ledger.keys import KeyStore, LocalKey, PublishedKey
from ledger.note import sign_note, vkey
from ledger.statement import STATEMENT_FIELDS, Statement
from tests.evidence.bundle_factory import INLINE_CATALOGUE, build_bundle


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0: a file created without an explicit mode would be world-readable."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_created_key_file_is_owner_only_and_loads_back(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    key = store.create("record")
    path = tmp_path / "keys" / f"record-{key.key_id}.pem"
    assert mode(path) == 0o600
    assert mode(tmp_path / "keys") == 0o700
    assert b"BEGIN PRIVATE KEY" in path.read_bytes()
    assert store.load(key.key_id).public_bytes == key.public_bytes
    assert [p.name for p in (tmp_path / "keys").iterdir()] == [path.name]  # no temp left


def test_list_local_names_purpose_and_id(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    record, log = store.create("record"), store.create("log")
    assert sorted(store.list_local()) == sorted([("record", record.key_id), ("log", log.key_id)])
    assert store.load(log.key_id).purpose == "log"
    assert KeyStore(tmp_path / "absent").list_local() == []


def test_passphrase_encrypts_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    key = KeyStore(tmp_path, b"correct horse").create("log")
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / f"log-{key.key_id}.pem").read_bytes()
    assert KeyStore(tmp_path, b"correct horse").load(key.key_id).key_id == key.key_id
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        KeyStore(tmp_path, b"battery staple").load(key.key_id)
    with pytest.raises(KeyStoreError, match="no passphrase is configured"):
        KeyStore(tmp_path).load(key.key_id)


def test_unencrypted_key_with_a_configured_passphrase_is_refused(tmp_path: Path) -> None:
    key = KeyStore(tmp_path).create("record")
    with pytest.raises(KeyStoreError, match="not encrypted"):
        KeyStore(tmp_path, b"secret").load(key.key_id)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="no private key file for key id 0123456789abcdef"):
        KeyStore(tmp_path).load("0123456789abcdef")


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o660, 0o644])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, loose: int) -> None:
    key = KeyStore(tmp_path).create("record")
    (tmp_path / f"record-{key.key_id}.pem").chmod(loose)
    with pytest.raises(KeyStoreError, match="group or others"):
        KeyStore(tmp_path).load(key.key_id)


def test_file_holding_another_key_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    first, second = store.create("record"), store.create("record")
    (tmp_path / f"record-{second.key_id}.pem").unlink()
    (tmp_path / f"record-{first.key_id}.pem").rename(tmp_path / f"record-{second.key_id}.pem")
    with pytest.raises(KeyStoreError, match="holds key"):
        store.load(second.key_id)


def test_key_id_is_first_16_hex_of_sha256_of_raw_public_key() -> None:
    key = LocalKey.generate()
    assert len(key.public_bytes) == 32
    assert key.key_id == hashlib.sha256(key.public_bytes).hexdigest()[:16]
    assert verify.key_id(key.public_bytes) == key.key_id


@pytest.mark.parametrize("size", [0, 1, 32, 45, 1000])
def test_signatures_are_the_ones_openssl_makes_from_the_same_key(size: int) -> None:
    """The ledger signs with libsodium but keeps keys through `cryptography`: the two must
    give the same deterministic Ed25519 signature (RFC 8032), one that verifies."""
    for _ in range(5):
        key = LocalKey.generate()
        message = os.urandom(size)
        signature = key.sign_raw(message)
        assert signature == key.private_key.sign(message)
        key.private_key.public_key().verify(signature, message)
        digest = os.urandom(32)
        assert base64.b64decode(key.sign_record(digest)) == key.private_key.sign(
            verify.RECORD_SIGNATURE_PREFIX + digest)


def test_record_signature_is_over_prefix_and_hash_only() -> None:
    key = LocalKey.generate()
    digest = hashlib.sha256(b"statement").digest()
    signature = key.sign_record(digest)
    assert verify.verify_record_signature(key.public_bytes, digest, signature)
    raw = base64.b64decode(signature)
    Ed25519PublicKey.from_public_bytes(key.public_bytes).verify(
        raw, b"orderledger.record.v1\x00" + digest)
    bare = base64.b64encode(key.sign_raw(digest)).decode()
    assert not verify.verify_record_signature(key.public_bytes, digest, bare)
    assert not verify.verify_record_signature(key.public_bytes, bytes(32), signature)
    assert not verify.verify_record_signature(LocalKey.generate().public_bytes, digest, signature)
    assert not verify.verify_record_signature(key.public_bytes, digest, signature[:-4])


NOT_BEFORE, NOT_AFTER = "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("name", "not_after", "recorded_at", "allowed"),
    [
        ("before the interval", NOT_AFTER, "2025-12-31T23:59:59.999Z", False),
        ("at not_before", NOT_AFTER, NOT_BEFORE, True),
        ("inside", NOT_AFTER, "2026-01-15T12:00:00.000Z", True),
        ("inside, other offset", NOT_AFTER, "2026-01-15T20:00:00+08:00", True),
        ("at not_after (exclusive)", NOT_AFTER, NOT_AFTER, False),
        ("after", NOT_AFTER, "2026-03-01T00:00:00.000Z", False),
        ("open-ended, long after", None, "2030-01-01T00:00:00.000Z", True),
        ("open-ended, before", None, "2025-01-01T00:00:00.000Z", False),
        ("not a timestamp", None, "yesterday", False),
    ],
)
def test_published_key_interval_rule(name: str, not_after: str | None, recorded_at: str,
                                     allowed: bool) -> None:
    key = PublishedKey("0" * 16, bytes(32), NOT_BEFORE, not_after)
    assert key.may_sign_at(recorded_at) is allowed


def test_published_key_json_is_the_spec_key_object() -> None:
    key = LocalKey.generate()
    published = PublishedKey(key.key_id, key.public_bytes, NOT_BEFORE, None)
    obj = published.to_json()
    assert obj == {"key_id": key.key_id, "alg": "Ed25519",
                   "public_key": base64.b64encode(key.public_bytes).decode(),
                   "not_before": NOT_BEFORE, "not_after": None}
    assert PublishedKey.from_json(obj) == published
    with pytest.raises(ValueError, match="alg"):
        PublishedKey.from_json(dict(obj, alg="ECDSA"))


def test_canonical_helpers_match_the_verifier() -> None:
    salt = new_salt()
    assert len(salt) == 16
    assert salt != new_salt()
    payload = {"b": 1, "a": "收件人"}
    expected = hashlib.sha256(salt + '{"a":"收件人","b":1}'.encode()).hexdigest()
    assert payload_digest(salt, payload) == expected
    kit = build_bundle(seed=3, records=4, catalogue=INLINE_CATALOGUE)
    statement = kit.bundle["entries"][1]["statement"]
    assert statement_hash(Statement.from_json(statement)) == verify.statement_hash(statement)
    assert verify.STATEMENT_FIELDS == STATEMENT_FIELDS


def test_signed_note_round_trip_and_foreign_cosignature_is_ignored() -> None:
    log, witness = LocalKey.generate("log"), LocalKey.generate("log")
    note = sign_note("hello\nworld\n", "example.org/log", log)
    cosigned = note + sign_note("hello\nworld\n", "witness.example", witness).split("\n\n")[1]
    verifier = verify.parse_vkey(vkey("example.org/log", log.public_bytes))
    assert verify.verify_note(cosigned, verifier).body == "hello\nworld\n"
    with pytest.raises(verify.BadNote):
        verify.verify_note(note, verify.parse_vkey(vkey("example.org/log",
                                                        witness.public_bytes)))
    for body in ("no newline", "blank\n\n", ""):
        with pytest.raises(ValueError):
            sign_note(body, "example.org/log", log)


def test_checkpoint_body_sign_parse_verify() -> None:
    key = LocalKey.generate("log")
    root = hashlib.sha256(b"root").digest()
    checkpoint = Checkpoint.new("example.org/log", 42, root, timestamp="2026-02-16T15:40:00.000Z")
    assert checkpoint.body() == (
        f"example.org/log\n42\n{base64.b64encode(root).decode()}\n"
        "timestamp 2026-02-16T15:40:00.000Z\n")
    text = checkpoint.sign(key)
    assert Checkpoint.parse(text) == checkpoint
    assert Checkpoint.parse(checkpoint.body()) == checkpoint
    assert checkpoint.timestamp == "2026-02-16T15:40:00.000Z"
    verifier = verify.parse_vkey(vkey("example.org/log", key.public_bytes))
    assert Checkpoint.verify(text, verifier) == checkpoint
    with pytest.raises(verify.BadCheckpoint):
        Checkpoint.verify(text.replace("\n42\n", "\n43\n"), verifier)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("leading zero size", "o\n042\n{root}\n"),
        ("negative size", "o\n-1\n{root}\n"),
        ("unicode digit size", "o\n\u0664\n{root}\n"),
        ("short root", "o\n1\nAAAA\n"),
        ("missing root", "o\n1\n"),
        ("empty extension", "o\n1\n{root}\n\n"),
        ("empty origin", "\n1\n{root}\n"),
    ],
)
def test_malformed_checkpoint_body(name: str, body: str) -> None:
    root = base64.b64encode(bytes(32)).decode()
    with pytest.raises(verify.BadCheckpoint):
        verify.parse_checkpoint_body(body.replace("{root}", root))
