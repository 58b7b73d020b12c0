"""Registers fairgate's governance view with Airflow: the app under ``/fairgate`` and a "Governance" nav entry.

Airflow imports this file from its plugins folder (``plugins/.airflowignore``
leaves the package's other modules to be imported from here) in every process
that loads plugins, every task included (for their macros). So importing it
imports nothing heavy: the FastAPI app, Airflow's API security and the
gathering code are imported the first time the API server asks the plugin for
its ``fastapi_apps``, never in a task.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/fairgate"
NAME = "fairgate_governance"


@cache
def _fastapi_apps() -> list[dict[str, Any]]:
    from fairgate_governance.app import create_app

    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "fairgate governance"}]


class _BuiltOnFirstUse:
    """The plugin's ``fastapi_apps``: the app is built (once) when the API server reads the attribute."""

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        return _fastapi_apps()


class FairgateGovernancePlugin(AirflowPlugin):
    """The governance view: a read-only FastAPI app and its entry in Airflow's navigation."""

    name = NAME
    fastapi_apps = _BuiltOnFirstUse()  # type: ignore[assignment]
    # shown inside Airflow's UI (an iframe at /plugin/governance), in the navigation bar
    external_views = [
        {
            "name": "Governance",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "governance",
            "nav_top_level": True,
        }
    ]
