"""``airflow dags test`` without building routers for API versions nobody calls.

``airflow dags test`` (what ``fairgate run`` starts, and ``fairgate airflow
dags test ...``) runs each task in its own process and serves Airflow's task
execution API in-process for them
(``airflow.sdk.execution_time.supervisor.in_process_api_server``: one
``InProcessExecutionAPI`` per process).  That API is a Cadwyn app.  At its
first request Cadwyn builds one router per API version Airflow ever
published (nine in Airflow 3.3.2, 2025-04-28 to 2026-06-30): each a copy of
every route with its request and response models regenerated for that
version.  That build is most of the time between ``dags test`` starting its
first task and the task running (measured in docs/benchmarks.md).

The only client of the in-process API is the task SDK of the same Airflow
installation, and it sends ``airflow-api-version: API_VERSION``, the newest
version.  A request at the newest version passes through no version change:
Cadwyn migrates a request through the changes of the versions newer than its
own, and a response through the same ones backwards; there are none.  So the
router of the newest version is the only one a ``dags test`` ever uses, and
it is the same whether Cadwyn derives the eight older ones beside it or not.

:func:`serve_newest_version_only` makes one Cadwyn app, before its first
request, build that router alone: its version bundle becomes the newest
version alone, and the routes that exist only in older versions
(``@router.only_exists_in_older_versions``, which Cadwyn leaves out of the
newest router) are left out of its head router up front.  :func:`install`
applies it to the app ``in_process_api_server`` returns.  The API server
(``airflow api-server``, production) and the triggerer's and DAG processor's
own in-process APIs are untouched: older clients may call them.

Airflow documents no setting for this, so it replaces one function of
Airflow's and writes two Cadwyn attributes of one app object.  Every
assumption is checked and a broken one stops ``dags test`` at start-up with
an error naming this file: the function is gone or not the cached factory it
was, the SDK speaks another version than the newest, the head version has
changes of its own, the app already served a request, or the app ends up
serving anything but the one version.  It never falls back silently to
Airflow's own build.  ``tests/dags/test_in_process_execution_api.py`` checks
that the router built here is the newest router Airflow builds itself (the
same OpenAPI document, the same routes and dependencies).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

logger = logging.getLogger("fairgate_dags_test")

HERE = "deploy/embedded/fairgate_dags_test.py"
ERR_MOVED = (
    "airflow.sdk.execution_time.supervisor.in_process_api_server is gone or no longer a cached factory "
    "(Airflow changed): update " + HERE
)
ERR_NOT_NEWEST = (
    "the task SDK speaks execution API version {client}, but the newest version Airflow serves is {newest} "
    "(Airflow changed): update " + HERE
)
ERR_HEAD_CHANGES = (
    "Airflow's execution API head version has changes of its own ({changes}); the newest version is not "
    "the head any more (Airflow changed): update " + HERE
)
ERR_STARTED = "the in-process execution API already served a request: its routers are built; update " + HERE
ERR_NOT_EMPTY = "the in-process execution API has routes for version {version} before they were built; update " + HERE
ERR_SERVED = "the in-process execution API serves versions {served}, expected {version} alone; update " + HERE
BUILT = "in-process execution API: built the router of version %s only (the version the task SDK sends), by " + HERE


def serve_newest_version_only(app: Any, version: str) -> None:
    """Make a Cadwyn app that has not served a request build and serve the router of ``version`` alone.

    ``version`` must be the newest version of the app's bundle.  The routers
    are built here (Cadwyn would build them at the first request) so that
    the result is checked before any task runs.

    Raises
    ------
    RuntimeError
        An assumption about Airflow or Cadwyn no longer holds (the message
        says which).
    """
    from cadwyn import HeadVersion, Version, VersionBundle
    from cadwyn.route_generation import _DELETED_ROUTE_TAG  # Cadwyn's tag for a route of older versions only
    from fastapi.routing import APIRoute

    bundle = app.versions
    newest = bundle.versions[0].value
    if newest != version:
        raise RuntimeError(ERR_NOT_NEWEST.format(client=version, newest=newest))
    if bundle.head_version.changes:
        raise RuntimeError(ERR_HEAD_CHANGES.format(changes=", ".join(c.__name__ for c in bundle.head_version.changes)))
    if app._cadwyn_initialized:
        raise RuntimeError(ERR_STARTED)
    routers = app.router.versioned_routers
    for value, router in routers.items():
        if router.routes:
            raise RuntimeError(ERR_NOT_EMPTY.format(version=value))
    # the same context variable: the versioning middleware and the root router were given the bundle's
    app.versions = VersionBundle(HeadVersion(), Version(version), api_version_var=bundle.api_version_var)
    head = app._latest_version_router
    head.routes = [
        route for route in head.routes if not (isinstance(route, APIRoute) and _DELETED_ROUTE_TAG in route.tags)
    ]
    for value in [value for value in routers if value != version]:
        del routers[value]  # an empty router Cadwyn made for a version this app no longer builds
    app._cadwyn_initialize()
    if sorted(routers) != [version] or not routers[version].routes:
        raise RuntimeError(ERR_SERVED.format(served=sorted(routers), version=version))


def install() -> None:
    """Make ``in_process_api_server`` (``dags test``'s execution API) serve the SDK's own version alone."""
    from airflow.sdk.api.datamodels._generated import API_VERSION
    from airflow.sdk.execution_time import supervisor

    airflows = getattr(supervisor, "in_process_api_server", None)
    if airflows is None or not callable(getattr(airflows, "cache_clear", None)):
        raise RuntimeError(ERR_MOVED)

    @functools.lru_cache(maxsize=1)
    def in_process_api_server() -> Any:
        api = airflows()
        serve_newest_version_only(api.app, API_VERSION)
        logger.info(BUILT, API_VERSION)
        return api

    supervisor.in_process_api_server = in_process_api_server
