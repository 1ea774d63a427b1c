"""Ed25519 key material and the private-key store under the data directory.

Private keys are PKCS#8 PEM files `<dir>/<purpose>-<key_id>.pem`, created with mode
0600 from the first byte (never briefly readable by others) and encrypted when the
store has a passphrase. Which key may sign when (the published interval) is kept in
the database by the keyring; `PublishedKey` is the shared value type for it.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

from ledger.errors import KeyStoreError
from ledger.verify import RECORD_SIGNATURE_PREFIX, PublishedKey, key_id

__all__ = ["KeyPurpose", "KeyStore", "LocalKey", "PublishedKey"]

KeyPurpose = Literal["record", "log"]
_PURPOSES: tuple[str, ...] = get_args(KeyPurpose)
_KEY_FILE = re.compile(r"(record|log)-([0-9a-f]{16})\.pem")


@dataclass(frozen=True, slots=True)
class LocalKey:
    """A private signing key held by this ledger.

    The key is kept, loaded and stored through `cryptography`; signatures are made by
    libsodium (PyNaCl) from the same secret, ~35 % cheaper than OpenSSL's per-call
    setup on the append path, where signing is the largest single cost
    (bench/RESULTS.md). Ed25519 signatures are deterministic (RFC 8032): both give the
    same bytes, as tests/evidence/test_keys.py checks.
    """

    private_key: Ed25519PrivateKey = field(repr=False)
    purpose: KeyPurpose = "record"
    #: libsodium's 64-byte secret key (seed || public key) of `private_key`.
    _sodium_secret: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption())
        object.__setattr__(self, "_sodium_secret", crypto_sign_seed_keypair(seed)[1])

    @classmethod
    def generate(cls, purpose: KeyPurpose = "record") -> LocalKey:
        return cls(Ed25519PrivateKey.generate(), purpose)

    @property
    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> str:
        """First 16 hex characters of H(raw public key) (spec §3)."""
        return key_id(self.public_bytes)

    def sign_record(self, statement_hash: bytes) -> str:
        """b64 Ed25519 signature over RECORD_SIGNATURE_PREFIX || statement_hash (spec §3).
        Raises ValueError unless the hash is 32 bytes."""
        if len(statement_hash) != 32:
            raise ValueError("a statement hash is 32 bytes")
        return base64.b64encode(self.sign_raw(RECORD_SIGNATURE_PREFIX + statement_hash)
                                ).decode("ascii")

    def sign_raw(self, message: bytes) -> bytes:
        """A bare Ed25519 signature over `message` (used for signed notes, whose format
        does its own domain separation)."""
        return crypto_sign(message, self._sodium_secret)[:64]  # signature || message


class KeyStore:
    """Private keys as PEM files in one directory, optionally passphrase-encrypted."""

    def __init__(self, directory: Path, passphrase: bytes | None = None) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase or None

    def create(self, purpose: KeyPurpose) -> LocalKey:
        """Generate a key and write it to `<dir>/<purpose>-<key_id>.pem` (mode 0600).
        Raises KeyStoreError when the directory or file cannot be written."""
        if purpose not in _PURPOSES:
            raise KeyStoreError(f"unknown key purpose {purpose!r}; expected one of {_PURPOSES}")
        key = LocalKey.generate(purpose)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase)
            if self._passphrase else serialization.NoEncryption()
        )
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        path = self.directory / f"{purpose}-{key.key_id}.pem"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_private(path, pem)
        except OSError as exc:
            raise KeyStoreError(f"cannot write key file {path}: {exc.strerror}") from exc
        return key

    def load(self, kid: str) -> LocalKey:
        """Read the private key with this id. Raises KeyStoreError when no file holds it,
        the file is readable by group or others, the passphrase is missing or wrong, or
        the file does not hold the Ed25519 key of that id."""
        matches = [(p, k) for p, k in self.list_local() if k == kid]
        if not matches:
            raise KeyStoreError(f"no private key file for key id {kid} in {self.directory}")
        purpose, _ = matches[0]
        path = self.directory / f"{purpose}-{kid}.pem"
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyStoreError(
                    f"refusing key file {path}: mode {stat.S_IMODE(mode):o} lets group or "
                    "others access it; run chmod 600"
                )
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"cannot read key file {path}: {exc.strerror}") from exc
        private = self._decode(path, pem)
        key = LocalKey(private, "log" if purpose == "log" else "record")
        if key.key_id != kid:
            raise KeyStoreError(f"key file {path} holds key {key.key_id}, not {kid}")
        return key

    def list_local(self) -> list[tuple[KeyPurpose, str]]:
        """(purpose, key_id) of every key file in the directory, sorted; empty when the
        directory does not exist yet."""
        if not self.directory.is_dir():
            return []
        found: list[tuple[KeyPurpose, str]] = []
        for entry in sorted(self.directory.iterdir()):
            match = _KEY_FILE.fullmatch(entry.name)
            if match:
                found.append(("log" if match[1] == "log" else "record", match[2]))
        return found

    def _decode(self, path: Path, pem: bytes) -> Ed25519PrivateKey:
        encrypted = b"ENCRYPTED PRIVATE KEY" in pem
        if encrypted and self._passphrase is None:
            raise KeyStoreError(f"key file {path} is encrypted and no passphrase is configured")
        if not encrypted and self._passphrase is not None:
            raise KeyStoreError(
                f"key file {path} is not encrypted but a passphrase is configured; "
                "refusing a key stored weaker than configured"
            )
        try:
            private = serialization.load_pem_private_key(pem, password=self._passphrase)
        except ValueError:
            if encrypted:
                raise KeyStoreError(f"wrong passphrase for key file {path}") from None
            raise KeyStoreError(f"key file {path} is not a PKCS#8 PEM private key") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyStoreError(f"key file {path} does not hold an Ed25519 key")
        return private


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to a new file at `path`, readable by the owner only from creation
    (os.open with 0o600) and visible under its name only once complete (rename)."""
    if path.exists():
        raise FileExistsError(17, "key file exists already", str(path))
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
