"""Registers fairgate's governance view with Airflow: the app under ``/fairgate`` and a "Governance" nav entry.

Airflow imports this file from its plugins folder (``plugins/.airflowignore``
leaves the package's other modules to be imported from here).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from fairgate_governance.app import URL_PREFIX, create_app


class FairgateGovernancePlugin(AirflowPlugin):
    """The governance view: a read-only FastAPI app and its entry in Airflow's navigation."""

    name = "fairgate_governance"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "fairgate governance"}]
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
