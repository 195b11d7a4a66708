"""Counts and times every HTTP request the API answers (``ehc_http_*``).

A plain ASGI middleware, so streaming responses and errors are measured too. The ``route``
label is the template of the route that matched (``/assessments/{case_ref}``), never the
raw path, which would put case references into Prometheus; unmatched paths share one label.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehc.metrics import UNMATCHED_ROUTE, observe_http_request


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router records the matched route in the scope it was given.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            observe_http_request(
                scope.get("method", "GET"), route, status, time.perf_counter() - started
            )


def install_http_metrics(app: FastAPI) -> None:
    """Measure every request ``app`` answers."""
    app.add_middleware(HttpMetricsMiddleware)
