"""The OpenAPI document says what the API really answers.

FastAPI declares its own 422 shape (``HTTPValidationError``) and nothing else; this API
answers every error as ``{error, detail}`` (see ``api.errors.ErrorBody``). The document is
post-processed once: each operation declares the error statuses it can return with that
model, so a client generated from it (or schemathesis) finds no surprises.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import ErrorBody

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}

WHY: dict[str, str] = {
    "400": "The request cannot be answered as asked (a bad cursor, a missing filter)",
    "401": "No token, or a token that is not recognised",
    "403": "Your role cannot do this",
    "404": "Nothing was found with that reference",
    "409": "It conflicts with what is recorded (a closed case, a reference already used)",
    "413": "The request body is larger than the API accepts",
    "415": "The request body is not JSON",
    "422": "The input is invalid, or the case refused it; the detail says why",
    "429": "Too many failed sign-ins from this address or token; wait and retry",
    "503": "Temporal, the worker or the store did not answer in time; retry after Retry-After",
}
ALWAYS = ("400", "404", "422", "503")
SECURED = ("401", "403", "429")
WITH_BODY = ("409", "413", "415")
READ_ONLY_PUBLIC = {"/healthz": (), "/readyz": ("503",)}


def _error_response(status: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": WHY[status],
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    if status == "503":
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        }
    if status == "401":
        response["headers"] = {
            "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}
        }
    if status == "429":
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        }
    return response


def document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["ErrorBody"] = ErrorBody.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if path in READ_ONLY_PUBLIC:
                statuses: tuple[str, ...] = READ_ONLY_PUBLIC[path]
            else:
                statuses = ALWAYS
                if operation.get("security"):
                    statuses += SECURED
                if "requestBody" in operation:
                    statuses += WITH_BODY
            for status in statuses:
                described = responses.get(status, {}).get("description", "Validation Error")
                responses[status] = _error_response(status)
                if described != "Validation Error":
                    responses[status]["description"] = described
            if "201" in responses and "200" not in responses:
                responses["200"] = {
                    **responses["201"],
                    "description": "The same request was already recorded; nothing changed",
                }
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
