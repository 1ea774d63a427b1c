"""The state model: the catalogue in force and the ISO/IEC 11179 metadata registry."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import LedgerDep, LogReader
from api.schemas import CataloguePublic
from statemodel.registry import load_registry
from statemodel.registry_export import export_json

router = APIRouter(prefix="/v1", tags=["model"])

_AUTH: dict[int | str, dict[str, str]] = {
    401: {"description": "missing, unknown or revoked API key"},
    403: {"description": "role not allowed"},
}


@router.get("/catalogue", summary="The state catalogue new orders are created under",
            responses=_AUTH)
def get_catalogue(principal: LogReader, ledger: LedgerDep) -> CataloguePublic:
    current = ledger.models.current.catalogue
    return CataloguePublic(
        digest=current.digest, version=current.version, document=current.document
    )


@router.get(
    "/registry",
    summary="Every administered item of the metadata registry",
    responses={**_AUTH, 200: {"content": {"application/json": {}}}},
    response_class=Response,
)
def get_registry(principal: LogReader) -> Response:
    return Response(export_json(load_registry()), media_type="application/json")
