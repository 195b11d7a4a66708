"""The API's Swagger page served whole from this app: no script from a CDN, so it works on
a council's locked-down network. The files are under api/static/swagger-ui/."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

# Vendored from the npm package swagger-ui-dist (Apache-2.0, see its LICENSE and NOTICE):
# version 5 reads OpenAPI 3.1, which FastAPI writes.
SWAGGER = "/static/swagger-ui"


def install(app: FastAPI) -> None:
    """Off when the app has no OpenAPI document (production: see ``api.app``)."""
    if app.openapi_url is None:
        return

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url="/assets/images/favicon.ico",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
