"""Temporal payloads are encrypted (AES-GCM, key id in the metadata so keys rotate); old
unencrypted payloads still read; the Temporal UI's codec endpoint decodes for admins only."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest

from ehc.codec import ENCODING, KEY_ID, CodecError, EncryptionCodec, new_key, parse_keys
from tests.api.scenarios import create_case, weeks
from tests.conftest import Stack

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"case_ref":"EHC-123"}')


def _payloads(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload inside ``message``, with where it sits (search attributes excluded:
    they are indexed by Temporal, are not payload-encoded, and hold no personal data)."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        if field.name in ("search_attributes", "indexed_fields"):
            continue
        where = f"{path}.{field.name}"
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if isinstance(item, Message):
                    yield from _payloads(item, f"{where}[{key}]")
        elif isinstance(value, Message):
            yield from _payloads(value, where)
        else:  # a repeated field
            for i, item in enumerate(value):
                yield from _payloads(item, f"{where}[{i}]")


LOCAL_ACTIVITY_MARKER_KEYS = {
    "seq",
    "attempt",
    "activity_id",
    "activity_type",
    "complete_time",
    "backoff",
    "original_schedule_time",
    "activation_index",
}


def _sdk_marker(path: str, payload: Payload) -> bool:
    """A patch marker's id, or a local activity marker's bookkeeping (no data)."""
    if "[patch-data]" in path:
        return True
    if not path.startswith("marker_recorded_event_attributes") or "[data]" not in path:
        return False
    return set(json.loads(payload.data)) <= LOCAL_ACTIVITY_MARKER_KEYS


async def test_histories_written_now_hold_no_readable_payloads(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(8)
    ref = (await create_case(s, day0))["case_ref"]
    decision = {"decision": "assess", "decided_on": (day0 + weeks(1)).isoformat()}
    assert (await s.post(f"/assessments/{ref}/decision-to-assess", decision)).status_code == 200
    advice = {"agency": "health", "requested_on": (day0 + weeks(1)).isoformat()}
    assert (await s.post(f"/assessments/{ref}/advice-requests", advice)).status_code == 201

    raw = await s.env.client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace="default", execution=WorkflowExecution(workflow_id=f"assessment-{ref}")
        )
    )
    found = [
        (path, p)
        for event in raw.history.events
        for path, p in _payloads(event, event.WhichOneof("attributes") or "")
    ]
    assert len(found) >= 3, "the history holds the input, the updates and activity data"
    # The SDK writes in the clear a `workflow.patched` marker's id (a code) and, for the
    # projection run as a local activity, its own bookkeeping (sequence, attempt, times):
    # never the activity's input, never data of the case.
    readable = [
        path
        for path, p in found
        if p.metadata.get("encoding") != ENCODING and not _sdk_marker(path, p)
    ]
    assert readable == []
    for path, payload in found:
        if _sdk_marker(path, payload):
            assert ref.encode() not in payload.data
            continue
        assert payload.metadata[KEY_ID] == b"test-1"
        for secret in (ref.encode(), b"received_on", day0.isoformat().encode()):
            assert secret not in payload.data


async def test_keys_rotate_and_old_payloads_still_read() -> None:
    old_key, new = new_key(), new_key()
    before = EncryptionCodec(parse_keys({"2026-01": old_key}))
    [sealed_before] = await before.encode([PLAIN])
    rotated = EncryptionCodec(parse_keys({"2026-01": old_key, "2026-11": new}))
    assert rotated.current == "2026-11"
    [sealed_after] = await rotated.encode([PLAIN])
    assert sealed_after.metadata[KEY_ID] == b"2026-11"
    assert await rotated.decode([sealed_before, sealed_after, PLAIN]) == [PLAIN, PLAIN, PLAIN]

    forgotten = EncryptionCodec(parse_keys({"2026-11": new}))
    with pytest.raises(CodecError, match="2026-01"):
        await forgotten.decode([sealed_before])
    tampered = Payload()
    tampered.CopyFrom(sealed_after)
    tampered.data = sealed_after.data[:-1] + bytes([sealed_after.data[-1] ^ 1])
    with pytest.raises(CodecError, match="integrity"):
        await rotated.decode([tampered])


def test_a_key_that_is_not_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        parse_keys({"short": base64.b64encode(b"too short").decode()})


def _as_ui_sends(payload: Payload) -> dict[str, Any]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
                "data": base64.b64encode(payload.data).decode(),
            }
        ]
    }


async def test_the_codec_endpoint_decodes_for_signed_in_admins_only(ts_stack: Stack) -> None:
    s = ts_stack
    codec: EncryptionCodec = s.http._transport.app.state.codec  # type: ignore[attr-defined]
    [sealed] = await codec.encode([PLAIN])
    body = _as_ui_sends(sealed)

    r = await s.http.post("/codec/decode", json=body, headers=s.headers("admin"))
    assert r.status_code == 200, r.text
    [decoded] = r.json()["payloads"]
    assert base64.b64decode(decoded["data"]) == PLAIN.data
    assert json.loads(base64.b64decode(decoded["data"]))["case_ref"] == "EHC-123"
    assert r.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8233"

    assert (await s.http.post("/codec/decode", json=body, headers=s.headers())).status_code == 403
    assert (await s.http.post("/codec/decode", json=body)).status_code == 401
    preflight = await s.http.options(
        "/codec/decode",
        headers={"Origin": "http://127.0.0.1:8233", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
