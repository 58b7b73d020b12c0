"""fairgate's governance view in Airflow: a read-only FastAPI app behind Airflow's own authentication.

:mod:`.plugin` registers it with Airflow (the app under ``/fairgate`` and a
navigation entry, "Governance"); :mod:`.app` routes each page to
:func:`pipelines.flows.governance_view.governance_view` and renders the
Jinja2 templates in ``templates/``. Nothing here decides or gathers anything.
"""
