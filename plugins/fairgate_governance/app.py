"""The governance view's routes: read-only pages behind Airflow's own authentication.

Every route depends on Airflow's security dependency
(``requires_access_view(AccessView.WEBSITE)``, which resolves the user from
Airflow's session cookie or a bearer token through the configured auth
manager): a request without a valid identity gets Airflow's 401 or 403, before
anything is read. The app declares GET routes only and no OpenAPI or docs
pages, so nothing it serves can be reached without that check. What a page
shows comes from :mod:`pipelines.flows.governance_view`; this module routes
and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_view
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from pipelines.core.errors import BadInputError
from pipelines.core.project import open_project

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
NO_STORE = {"Cache-Control": "no-store"}
# a stored model card is served as fairgate rendered it, in a sandbox: no script, no form, no same-origin access
CARD_HEADERS = {**NO_STORE, "Content-Security-Policy": "sandbox"}


def _view() -> dict[str, Any]:
    from pipelines.flows.governance_view import governance_view  # lazy: MLflow, on the first request only

    paths, config = open_project()
    return governance_view(paths, config)


def _document(version: str, document: str) -> Any:
    from pipelines.flows.governance_view import version_document  # lazy: MLflow, on the first request only

    paths, config = open_project()
    try:
        return version_document(paths, config, version, document)
    except BadInputError as e:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=str(e)) from e


def create_app() -> FastAPI:
    """The FastAPI app Airflow mounts (see :mod:`.plugin`); every route needs an authenticated Airflow user."""
    app = FastAPI(
        title="fairgate governance",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(requires_access_view(AccessView.WEBSITE))],
    )

    @app.get("/", response_class=HTMLResponse, name="overview")
    def overview(request: Request, user: GetUserDep) -> HTMLResponse:
        """The champion, its verdicts, the audit chain, the freeze, approvals, history, refusals, monitoring."""
        return TEMPLATES.TemplateResponse(
            request, "overview.html", {"view": _view(), "user": user.get_name()}, headers=NO_STORE
        )

    @app.get("/state.json", name="state")
    def state() -> JSONResponse:
        """The same facts as the overview, as JSON."""
        return JSONResponse(_view(), headers=NO_STORE)

    @app.get("/versions/{version}/gate-report", response_class=HTMLResponse, name="gate_report")
    def gate_report(request: Request, version: str, user: GetUserDep) -> HTMLResponse:
        """A version's gate report (Markdown, as the gate wrote it)."""
        document = _document(version, "gate_report")
        return TEMPLATES.TemplateResponse(
            request, "gate_report.html", {"document": document, "user": user.get_name()}, headers=NO_STORE
        )

    @app.get("/versions/{version}/model-card", response_class=HTMLResponse, name="model_card")
    def model_card(version: str) -> HTMLResponse:
        """A version's model card, the HTML fairgate rendered and logged to its run."""
        return HTMLResponse(_document(version, "model_card").text, headers=CARD_HEADERS)

    return app
