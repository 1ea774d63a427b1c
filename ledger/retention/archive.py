"""The archive a retention run writes BEFORE it erases anything, and its verification.

`<data_dir>/archives/run-<id>/` holds two files:

- `records.jsonl`: one JSON object per line for every record the run plans to erase,
  with its payload and salt (b64), statement, statement hash, signature, leaf index, an
  inclusion proof against the manifest's checkpoint, and the retention rule that allows
  the erasure;
- `manifest.json`: `{"manifest": {...}, "signature": {...}}` — the manifest names the
  run, counts the records per tenant and class, carries the latest checkpoint, the log's
  verifier key, the record keys needed and the SHA-256 of `records.jsonl`; the signature
  is Ed25519 by the ledger's record key over `MANIFEST_SIGNATURE_PREFIX || JCS(manifest)`.

The directory appears whole or not at all (written aside, then renamed). It is written as
the records come (`ArchiveWriter`) and verified line by line, so neither holds more than
one record in memory. `verify_archive` checks every record against the checkpoint with
the offline verifier's primitives only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import verify
from ledger.keys import LocalKey, PublishedKey
from ledger.retention.policy import Eligibility
from ledger.store import StoredRecord

ARCHIVE_FORMAT: Final = "orderledger.retention-archive.v1"
MANIFEST_SIGNATURE_PREFIX: Final = b"orderledger.retention-archive.v1\x00"
RECORDS_FILE: Final = "records.jsonl"
MANIFEST_FILE: Final = "manifest.json"


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One record to archive, with its place in the log and the rule that erases it."""

    record: StoredRecord
    leaf_index: int
    inclusion_proof: Sequence[bytes]
    retention: Eligibility


@dataclass(frozen=True, slots=True)
class WrittenArchive:
    directory: Path
    manifest: dict[str, Any]
    #: hex SHA-256 of JCS(manifest): what the run's purge records cite.
    manifest_sha256: str


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(verify.canonical_json(manifest)).hexdigest()


def sign_manifest(manifest: Mapping[str, Any], key: LocalKey) -> dict[str, str]:
    signature = key.sign_raw(MANIFEST_SIGNATURE_PREFIX + verify.canonical_json(manifest))
    return {
        "key_id": key.key_id,
        "alg": "Ed25519",
        "signature": base64.b64encode(signature).decode("ascii"),
    }


class ArchiveWriter:
    """Writes an archive as its records come, with memory bounded by one line.

    Each `add` appends the record's line to `records.jsonl` in a hidden staging
    directory beside `directory` and folds it into a running SHA-256 and the counts.
    `finish` flushes and fsyncs the records file, writes the signed manifest, then renames
    the staging directory into place (replacing an unfinished one left there by a crashed
    attempt of the same run): a reader never sees half an archive. `abort` (or leaving
    the `with` block by an exception) removes the staging directory. Entries must come
    grouped by order, orders in (tenant, order) order — the order the run reads them in —
    so that orders are counted without remembering them. Raises OSError when the files
    cannot be written.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.parent.mkdir(parents=True, exist_ok=True)
        self._staging = directory.parent / f".{directory.name}.{secrets.token_hex(4)}.partial"
        self._staging.mkdir(mode=0o700)
        try:
            self._file: BinaryIO | None = (self._staging / RECORDS_FILE).open("wb")
        except BaseException:
            shutil.rmtree(self._staging, ignore_errors=True)
            raise
        self._digest = hashlib.sha256()
        self.records = 0
        self.orders = 0
        self.counts: dict[str, dict[str, int]] = {}
        #: Key ids of the records written (the manifest publishes these keys).
        self.key_ids: set[str] = set()
        self._last_order: tuple[str, str] | None = None

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.abort()

    def add(self, entry: ArchiveEntry) -> None:
        """Write one record's line. Raises ValueError for a record without payload or
        out of (tenant, order) order, OSError when the file cannot be written."""
        if self._file is None:
            raise ValueError("the archive is finished or aborted")
        statement = entry.record.statement
        order = (statement.tenant, statement.order)
        if order != self._last_order:
            if self._last_order is not None and order < self._last_order:
                raise ValueError(f"archive entries out of order: {order} after "
                                 f"{self._last_order}")
            self.orders += 1
            self._last_order = order
        data = (
            json.dumps(_line(entry), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            + "\n"
        ).encode("utf-8")
        self._file.write(data)
        self._digest.update(data)
        self.records += 1
        per_tenant = self.counts.setdefault(statement.tenant, {})
        klass = entry.retention.record_class.value
        per_tenant[klass] = per_tenant.get(klass, 0) + 1
        self.key_ids.add(statement.key_id)

    def finish(
        self,
        *,
        run_id: int,
        log: str,
        reference_time: str,
        created_at: str,
        checkpoint: str,
        log_key: str,
        keys: Sequence[PublishedKey],
        signer: LocalKey,
    ) -> WrittenArchive:
        """Seal the records file, sign and write the manifest, move the archive into
        place. Raises OSError when that fails (the staging directory is removed)."""
        if self._file is None:
            raise ValueError("the archive is finished or aborted")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            manifest: dict[str, Any] = {
                "format": ARCHIVE_FORMAT,
                "run_id": run_id,
                "log": log,
                "reference_time": reference_time,
                "created_at": created_at,
                "records_file": RECORDS_FILE,
                "records_sha256": self._digest.hexdigest(),
                "records": self.records,
                "orders": self.orders,
                "counts": self.counts,
                "checkpoint": checkpoint,
                "log_key": log_key,
                "keys": [k.to_json() for k in keys],
            }
            signed = {"manifest": manifest, "signature": sign_manifest(manifest, signer)}
            with (self._staging / MANIFEST_FILE).open("wb") as fh:
                fh.write(_json_bytes(signed))
                fh.flush()
                os.fsync(fh.fileno())
            if self.directory.exists():
                # Left by an attempt that crashed before the run recorded it: not yet
                # cited by any purge record, so it is replaced whole.
                shutil.rmtree(self.directory)
            self._staging.rename(self.directory)
        except BaseException:
            self.abort()
            raise
        return WrittenArchive(self.directory, manifest, manifest_digest(manifest))

    def abort(self) -> None:
        """Drop what was written (nothing of it is in place yet)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        shutil.rmtree(self._staging, ignore_errors=True)


def write_archive(
    directory: Path,
    *,
    run_id: int,
    log: str,
    reference_time: str,
    created_at: str,
    entries: Iterable[ArchiveEntry],
    checkpoint: str,
    log_key: str,
    keys: Sequence[PublishedKey],
    signer: LocalKey,
) -> WrittenArchive:
    """Write the archive of `entries` (grouped by order, in (tenant, order) order) to
    `directory` through an `ArchiveWriter`, consuming them one at a time. Raises OSError
    when it cannot be written, ValueError for entries out of order."""
    with ArchiveWriter(directory) as writer:
        for entry in entries:
            writer.add(entry)
        return writer.finish(
            run_id=run_id, log=log, reference_time=reference_time, created_at=created_at,
            checkpoint=checkpoint, log_key=log_key, keys=keys, signer=signer,
        )


def _line(entry: ArchiveEntry) -> dict[str, Any]:
    record = entry.record
    if record.payload is None or record.salt is None:
        raise ValueError(f"record {record.record_id} has no payload left to archive")
    return {
        "statement": record.statement.to_json(),
        "statement_hash": record.statement_hash,
        "signature": record.signature,
        "payload": record.payload,
        "salt": base64.b64encode(record.salt).decode("ascii"),
        "leaf_index": entry.leaf_index,
        "inclusion_proof": [h.hex() for h in entry.inclusion_proof],
        "retention": entry.retention.to_json(),
    }


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


# --- verification --------------------------------------------------------------------


def verify_archive(directory: Path, *, trust: verify.TrustSet | None = None) -> list[str]:
    """Every problem of the archive in `directory`; [] when it verifies.

    Checks the manifest signature (key from the trust set when given, else from the
    manifest), the checkpoint under the log key, the records file's digest and count,
    and for each record: statement hash, record signature and key interval, payload
    digest with the archived salt, and the inclusion proof against the checkpoint.
    Raises OSError when the files cannot be read.
    """
    problems: list[str] = []
    try:
        signed = verify.read_json((directory / MANIFEST_FILE).read_bytes(), "manifest")
        manifest, signature = signed["manifest"], signed["signature"]
        keys = {k.key_id: k for k in map(PublishedKey.from_json, manifest["keys"])}
        log_verifier = verify.parse_vkey(manifest["log_key"])
    except (verify.VerificationError, KeyError, TypeError, ValueError) as exc:
        return [f"manifest unreadable: {exc}"]
    if trust is not None:
        if log_verifier != trust.log_key:
            problems.append("manifest log_key is not the trusted log key")
        keys = {k.key_id: k for k in trust.keys}
    if manifest.get("format") != ARCHIVE_FORMAT:
        problems.append(f"manifest format is not {ARCHIVE_FORMAT!r}")
    problems += _signature_problems(manifest, signature, keys)
    try:
        head = verify.verify_checkpoint(manifest["checkpoint"], log_verifier)
    except verify.VerificationError as exc:
        return [*problems, f"checkpoint: {exc}"]
    # Read line by line: memory stays at one line however large the archive.
    digest, count, line_problems = hashlib.sha256(), 0, []
    with (directory / str(manifest.get("records_file", RECORDS_FILE))).open("rb") as fh:
        for count, raw in enumerate(fh, start=1):
            digest.update(raw)
            line_problems += [f"line {count}: {p}" for p in _line_problems(raw, keys, head)]
    if digest.hexdigest() != manifest.get("records_sha256"):
        problems.append("records file does not match records_sha256 of the manifest")
    if count != manifest.get("records"):
        problems.append(f"records file has {count} records, manifest says "
                        f"{manifest.get('records')}")
    return problems + line_problems


def _line_problems(
    raw: bytes, keys: Mapping[str, PublishedKey], head: verify.CheckpointBody
) -> list[str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"unreadable: {exc}"]
    return _record_problems(text, keys, head)


def _signature_problems(
    manifest: Mapping[str, Any], signature: Mapping[str, Any], keys: Mapping[str, PublishedKey]
) -> list[str]:
    key = keys.get(str(signature.get("key_id")))
    if key is None:
        return [f"manifest signed by unknown key {signature.get('key_id')}"]
    try:
        raw = verify.b64decode_strict(signature.get("signature"), length=64)
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(
            raw, MANIFEST_SIGNATURE_PREFIX + verify.canonical_json(manifest)
        )
    except (ValueError, InvalidSignature):
        return ["manifest signature does not verify"]
    if not key.may_sign_at(str(manifest.get("created_at"))):
        return [f"key {key.key_id} could not sign at {manifest.get('created_at')}"]
    return []


def _record_problems(
    text: str, keys: Mapping[str, PublishedKey], head: verify.CheckpointBody
) -> list[str]:
    try:
        line = verify.read_json(text, "record")
        statement = line["statement"]
        digest = verify.statement_hash(statement)
        salt = verify.b64decode_strict(line["salt"], length=16)
        path = [verify.hash_from_hex(h) for h in line["inclusion_proof"]]
        index = line["leaf_index"]
    except (verify.VerificationError, KeyError, TypeError, ValueError) as exc:
        return [f"unreadable: {exc}"]
    problems = []
    if digest.hex() != line.get("statement_hash"):
        problems.append("statement hash does not match the statement")
    key = keys.get(str(statement.get("key_id")))
    if key is None:
        problems.append(f"signed by unknown key {statement.get('key_id')}")
    elif not verify.verify_record_signature(key.public_key, digest, line.get("signature")):
        problems.append("record signature does not verify")
    elif not key.may_sign_at(str(statement.get("recorded_at"))):
        problems.append(f"key {key.key_id} could not sign at {statement.get('recorded_at')}")
    try:
        payload_ok = verify.payload_digest(salt, line.get("payload")) == statement.get(
            "payload_digest"
        )
    except ValueError:
        payload_ok = False
    if not payload_ok:
        problems.append("payload and salt do not match payload_digest")
    try:
        verify.verify_inclusion(index, head.size, verify.leaf_hash(digest), path, head.root)
    except (verify.BadInclusionProof, TypeError) as exc:
        problems.append(f"inclusion proof: {exc}")
    return problems
