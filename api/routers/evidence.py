"""Evidence: the latest checkpoint, inclusion and consistency proofs, proof bundles, and
the trust set (log key and record signing keys with their intervals)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from api import services
from api.deps import BundleReader, LedgerDep, LogReader, Reader
from api.schemas import CheckpointPublic, ConsistencyProofPublic, InclusionProofPublic
from ledger.export import export_bundle

router = APIRouter(prefix="/v1", tags=["evidence"])

_AUTH: dict[int | str, dict[str, str]] = {
    401: {"description": "missing, unknown or revoked API key"},
    403: {"description": "role or tenant not allowed"},
}


@router.get("/checkpoint", summary="The latest signed checkpoint of the log", responses={
    **_AUTH, 404: {"description": "nothing has been integrated into the log yet"}})
def get_checkpoint(principal: LogReader, ledger: LedgerDep) -> CheckpointPublic:
    row = services.latest_checkpoint(ledger)
    if row is None:
        raise HTTPException(404, "no checkpoint yet: nothing has been integrated into the log")
    return CheckpointPublic.of(row)


@router.get(
    "/proofs/inclusion",
    summary="Inclusion proof of one record under the latest checkpoint (RFC 9162 §2.1.3)",
    responses={**_AUTH, 404: {"description": "unknown order"},
               422: {"description": "no such seq, or not yet under a checkpoint"}},
)
def get_inclusion_proof(
    principal: Reader,
    ledger: LedgerDep,
    tenant: Annotated[str, Query(min_length=1, max_length=128)],
    order: Annotated[str, Query(min_length=1, max_length=128)],
    seq: Annotated[int, Query(ge=0)],
) -> InclusionProofPublic:
    principal.require_tenant(tenant)
    found = services.inclusion(ledger, tenant, order, seq)
    return InclusionProofPublic(
        tenant=tenant,
        order=order,
        seq=seq,
        statement_hash=found.record.statement_hash,
        leaf_index=found.leaf_index,
        tree_size=found.checkpoint.size,
        inclusion_proof=[h.hex() for h in found.proof],
        checkpoint=found.checkpoint.note,
    )


@router.get(
    "/proofs/consistency",
    summary="Consistency proof between two log sizes (RFC 9162 §2.1.4)",
    responses={**_AUTH, 422: {"description": "sizes out of range"}},
)
def get_consistency_proof(
    principal: LogReader,
    ledger: LedgerDep,
    old_size: Annotated[int, Query(ge=1)],
    new_size: Annotated[int | None, Query(ge=1)] = None,
) -> ConsistencyProofPublic:
    size, proof = services.consistency(ledger, old_size, new_size)
    return ConsistencyProofPublic(old_size=old_size, new_size=size, proof=[h.hex() for h in proof])


@router.get(
    "/orders/{tenant}/{order}/bundle",
    summary="Proof bundle of one order (evidence-format §6), verifiable offline",
    responses={**_AUTH, 404: {"description": "unknown order"}},
)
def get_bundle(
    tenant: str, order: str, principal: BundleReader, ledger: LedgerDep
) -> dict[str, Any]:
    principal.require_tenant(tenant)
    return export_bundle(ledger, tenant, order)


@router.get("/keys", summary="The trust set (evidence-format §7)", responses=_AUTH)
def get_keys(principal: LogReader, ledger: LedgerDep) -> dict[str, Any]:
    return ledger.keyring.trust_set()
