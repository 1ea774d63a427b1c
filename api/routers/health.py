"""Liveness and readiness, without authentication (for load balancers and probes)."""

from __future__ import annotations

from fastapi import APIRouter

from api import services
from api.deps import LedgerDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database answers",
    responses={503: {"description": "the database is unreachable"}},
)
def readyz(ledger: LedgerDep) -> Health:
    services.database_ready(ledger)
    return Health(status="ready")
