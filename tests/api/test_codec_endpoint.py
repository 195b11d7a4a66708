"""The codec endpoint as the Temporal Web UI calls it: with the browser's cookies.

An admin signed in to the case pages gets decoded payloads when the call comes from the
Temporal UI's origin; a caseworker, an anonymous caller, an expired session and any other
site (a forged cross-site request riding on an admin's cookie) get no decoded data.
Bearer tokens keep working for programs. The real browser round trip is in
tests/browser/test_temporal_ui_codec.py.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
from temporalio.api.common.v1 import Payload

from api.webauth import COOKIE
from ehc.codec import EncryptionCodec
from ehc.settings import Settings
from ehc.store import accounts, repository
from ehc_cli.devstack import temporal_dev_server_command
from tests.conftest import Stack

UI = "http://127.0.0.1:8233"  # Settings.temporal_ui_url's default
SECRET = b'{"case_ref":"CODEC-TEST-1"}'
PASSWORD = "correct horse battery staple"


async def _sealed_body(s: Stack) -> dict[str, Any]:
    codec: EncryptionCodec = s.http._transport.app.state.codec  # type: ignore[attr-defined]
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=SECRET)])
    assert SECRET not in sealed.data
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }


async def _session_cookie(s: Stack, role: str) -> str:
    email = f"codec-{role}-{uuid.uuid4().hex[:8]}@council.example"
    async with s.sessions() as session:
        user, _ = await repository.create_user(session, name=f"codec {role}", role=role)
        await accounts.set_password(session, user_id=user.id, email=email, password=PASSWORD)
        signed_in = await accounts.sign_in(session, email=email, password=PASSWORD, now=s.clock())
    assert isinstance(signed_in, accounts.SignedIn)
    return signed_in.cookie


async def _decode(
    s: Stack, body: dict[str, Any], *, origin: str | None = UI, cookie: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Namespace": "default"}
    if origin is not None:
        headers["Origin"] = origin
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    return await s.http.post(
        "/codec/decode?preserveStorageRefs=true", content=json.dumps(body), headers=headers
    )


def _no_decoded_data(r: httpx.Response) -> None:
    assert b"CODEC-TEST-1" not in r.content
    assert base64.b64encode(SECRET) not in r.content
    assert "payloads" not in r.json()


async def test_an_admin_signed_in_to_the_pages_sees_payloads_decoded_in_the_temporal_ui(
    ts_stack: Stack,
) -> None:
    body = await _sealed_body(ts_stack)
    r = await _decode(ts_stack, body, cookie=await _session_cookie(ts_stack, "admin"))
    assert r.status_code == 200, r.text
    [decoded] = r.json()["payloads"]
    assert base64.b64decode(decoded["data"]) == SECRET
    # The browser hands the answer to the UI only with these: the one origin, credentials.
    assert r.headers["Access-Control-Allow-Origin"] == UI
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Cache-Control"] == "no-store"


async def test_a_caseworker_signed_in_to_the_pages_gets_no_decoded_payloads(
    ts_stack: Stack,
) -> None:
    body = await _sealed_body(ts_stack)
    r = await _decode(ts_stack, body, cookie=await _session_cookie(ts_stack, "caseworker"))
    assert r.status_code == 403
    assert r.json()["detail"] == "A caseworker user cannot decode payloads."
    _no_decoded_data(r)


async def test_without_a_live_sign_in_the_ui_gets_no_decoded_payloads(ts_stack: Stack) -> None:
    body = await _sealed_body(ts_stack)
    anonymous = await _decode(ts_stack, body)
    assert anonymous.status_code == 401
    assert "Sign in to the case pages as an admin" in anonymous.json()["detail"]
    _no_decoded_data(anonymous)
    stale = await _decode(ts_stack, body, cookie="not-a-session-anyone-opened")
    assert stale.status_code == 401
    _no_decoded_data(stale)


async def test_another_site_cannot_make_a_signed_in_admins_browser_decode(
    ts_stack: Stack,
) -> None:
    body = await _sealed_body(ts_stack)
    admin = await _session_cookie(ts_stack, "admin")
    forged = await _decode(ts_stack, body, origin="http://evil.example", cookie=admin)
    assert forged.status_code == 403
    assert "only the Temporal Web UI at http://127.0.0.1:8233" in forged.json()["detail"]
    _no_decoded_data(forged)
    # Without an Origin a cookie proves nothing (no browser sends a cross-origin POST so).
    bare = await _decode(ts_stack, body, origin=None, cookie=admin)
    assert bare.status_code == 401
    _no_decoded_data(bare)
    preflight = await ts_stack.http.options(
        "/codec/decode",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_the_ui_preflight_is_answered_for_its_origin_with_credentials(
    ts_stack: Stack,
) -> None:
    r = await ts_stack.http.options(
        "/codec/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == UI
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    allowed = r.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed
    assert "x-namespace" in allowed


async def test_a_bearer_token_still_decodes_from_the_ui_origin_or_none(ts_stack: Stack) -> None:
    body = await _sealed_body(ts_stack)
    for origin in (UI, None):
        headers = {**ts_stack.headers("admin"), **({"Origin": origin} if origin else {})}
        r = await ts_stack.http.post("/codec/decode", json=body, headers=headers)
        assert r.status_code == 200, r.text
        assert base64.b64decode(r.json()["payloads"][0]["data"]) == SECRET
    r = await ts_stack.http.post("/codec/decode", json=body, headers=ts_stack.headers("manager"))
    assert r.status_code == 403
    _no_decoded_data(r)


def test_make_dev_points_the_ui_at_the_codec_endpoint_and_allows_the_ui_origin() -> None:
    settings = Settings(environment="dev", api_port=8123, temporal_ui_port=9233)
    command = temporal_dev_server_command(settings)
    assert command[command.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8123/codec"
    # The UI's origin follows its port unless set, so a moved UI is still let in.
    assert settings.temporal_ui_url == "http://127.0.0.1:9233"
    moved = Settings(temporal_ui_port=9233, temporal_ui_url="https://temporal.council.example")
    assert moved.temporal_ui_url == "https://temporal.council.example"
