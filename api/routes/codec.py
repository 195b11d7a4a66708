"""The codec endpoint the Temporal Web UI calls to show decoded payloads (admins only).

The UI posts ``{"payloads": [...]}`` (Temporal's JSON form of ``Payloads``) to
``/codec/decode`` with the signed-in admin's token and shows what comes back. Anyone else
gets 401 or 403 and the UI shows the payloads still encrypted. Configure the UI with
``--ui-codec-endpoint http://<api>/codec`` (``make dev`` does).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.deps import require
from api.errors import ApiError
from ehc.codec import CodecError, EncryptionCodec
from ehc.models import User
from ehc.settings import Settings

router = APIRouter(prefix="/codec", tags=["service"], include_in_schema=False)
Admin = Annotated[User, Depends(require("admin"))]


def _cors(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    return {
        "Access-Control-Allow-Origin": settings.temporal_ui_url,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


@router.options("/{action}")
async def preflight(action: str, request: Request) -> Response:
    """The UI's CORS preflight: it may post JSON with a token and a namespace."""
    return Response(
        status_code=204,
        headers={
            **_cors(request),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Namespace",
            "Access-Control-Max-Age": "600",
        },
    )


def _payloads(body: dict[str, Any]) -> Payloads:
    try:
        return json_format.ParseDict(body, Payloads(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise ApiError(
            422, "invalid_input", 'Send {"payloads": [...]} as the Temporal UI does.'
        ) from exc


@router.post("/decode")
async def decode(
    request: Request, user: Admin, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    codec: EncryptionCodec = request.app.state.codec
    try:
        decoded = await codec.decode(list(_payloads(body).payloads))
    except CodecError as exc:
        raise ApiError(422, "cannot_decode", f"{exc}.") from exc
    out = json_format.MessageToDict(Payloads(payloads=decoded))
    return JSONResponse({"payloads": out.get("payloads", [])}, headers=_cors(request))


@router.post("/encode")
async def encode(
    request: Request, user: Admin, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    codec: EncryptionCodec = request.app.state.codec
    encoded = await codec.encode(list(_payloads(body).payloads))
    out = json_format.MessageToDict(Payloads(payloads=encoded))
    return JSONResponse({"payloads": out.get("payloads", [])}, headers=_cors(request))
