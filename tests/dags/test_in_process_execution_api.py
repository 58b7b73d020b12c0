"""``dags test``'s in-process execution API, built for the task SDK's own version only.

deploy/embedded/fairgate_dags_test.py makes the Cadwyn app behind
``in_process_api_server`` build the router of the newest API version alone
instead of all nine.  These tests build that router both ways with Airflow's
own code and check they are the same router (the same OpenAPI document, the
same routes, endpoints and dependencies); and that each assumption the hook
makes stops it loudly when it no longer holds.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from pipelines.core.project import EMBEDDED_AIRFLOW_SETTINGS
from pipelines.flows.cli import DAGS_TEST_HOOK, airflow_command


def _hook() -> Any:
    spec = importlib.util.spec_from_file_location("fairgate_dags_test", DAGS_TEST_HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fresh_app() -> Any:
    """Airflow's in-process execution API app, as ``in_process_api_server`` makes it, before any request."""
    from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI

    return InProcessExecutionAPI().app


def _api_version() -> str:
    from airflow.sdk.api.datamodels._generated import API_VERSION

    return API_VERSION


def _dependencies(dependant: Any) -> list[str]:
    """Every dependency a route solves, depth first, by qualified name."""
    names = []
    for sub in dependant.dependencies:
        call = sub.call
        names.append(f"{getattr(call, '__module__', '')}.{getattr(call, '__qualname__', repr(call))}")
        names.extend(_dependencies(sub))
    return names


def _routes(routes: list[Any]) -> list[tuple[Any, ...]]:
    from fastapi.routing import APIRoute

    described = []
    for route in routes:
        if not isinstance(route, APIRoute):
            described.append((type(route).__name__, getattr(route, "path", None)))
            continue
        endpoint = getattr(route.endpoint, "__wrapped__", route.endpoint)
        described.append((
            route.path, tuple(sorted(route.methods)), route.name, route.status_code,
            f"{endpoint.__module__}.{endpoint.__qualname__}", repr(route.response_model),
            tuple(_dependencies(route.dependant)), tuple(route.tags),
        ))
    return sorted(described, key=repr)


def _openapi(routes: list[Any], version: str) -> dict[str, Any]:
    from fastapi.openapi.utils import get_openapi

    return get_openapi(title="in-process execution API", version=version, routes=routes)


@pytest.fixture(scope="module")
def apps() -> tuple[Any, Any]:
    """Airflow's app with every version's router built (as Airflow does), and one the hook built."""
    airflows = _fresh_app()
    airflows._cadwyn_initialize()
    ours = _fresh_app()
    _hook().serve_newest_version_only(ours, _api_version())
    return airflows, ours


@pytest.fixture(scope="module")
def routers(apps) -> tuple[Any, Any, str]:
    """The routers by version of both apps, and the task SDK's version."""
    airflows, ours = apps
    return airflows.router.versioned_routers, ours.router.versioned_routers, _api_version()


def test_airflow_builds_a_router_per_version_the_hook_the_sdk_s_own_only(routers):
    airflows, ours, version = routers
    assert len(airflows) > 1 and version in airflows
    assert sorted(ours) == [version]


def test_the_sdk_s_version_is_served_by_the_same_router_both_ways(routers):
    airflows, ours, version = routers
    assert _routes(ours[version].routes) == _routes(airflows[version].routes)
    assert _openapi(ours[version].routes, version) == _openapi(airflows[version].routes, version)


def test_the_comparison_tells_versions_apart(routers):
    """The control: the version before the newest is a different router under the same comparison."""
    airflows, ours, version = routers
    previous = sorted(airflows)[-2]
    assert _routes(ours[version].routes) != _routes(airflows[previous].routes)
    assert _openapi(ours[version].routes, version) != _openapi(airflows[previous].routes, version)


def test_a_route_of_older_versions_only_stays_out_both_ways(routers):
    """``/dag-runs/{dag_id}/previous`` exists in versions before 2026-04-06 only."""
    airflows, ours, version = routers
    older = [v for v in airflows if v != version]
    assert any("/dag-runs/{dag_id}/previous" in {r.path for r in airflows[v].routes} for v in older)
    assert "/dag-runs/{dag_id}/previous" not in {r.path for r in ours[version].routes}
    assert "/dag-runs/{dag_id}/previous" not in {r.path for r in airflows[version].routes}


def test_another_version_than_the_newest_is_refused():
    hook = _hook()
    with pytest.raises(RuntimeError, match="speaks execution API version 2025-04-28, but the newest"):
        hook.serve_newest_version_only(_fresh_app(), "2025-04-28")


def test_an_app_that_already_built_its_routers_is_refused(apps):
    airflows, _ = apps
    with pytest.raises(RuntimeError, match="already served a request"):
        _hook().serve_newest_version_only(airflows, _api_version())


def test_head_version_changes_are_refused(monkeypatch):
    hook = _hook()
    app = _fresh_app()

    class SomeChange:
        pass

    monkeypatch.setattr(app.versions.head_version, "changes", (SomeChange,))
    with pytest.raises(RuntimeError, match=r"head version has changes of its own \(SomeChange\)"):
        hook.serve_newest_version_only(app, _api_version())


@pytest.mark.parametrize("replacement", [None, lambda: None], ids=["gone", "not-a-cached-factory"])
def test_install_refuses_when_airflow_s_factory_moved(monkeypatch, replacement):
    from airflow.sdk.execution_time import supervisor

    if replacement is None:
        monkeypatch.delattr(supervisor, "in_process_api_server")
    else:
        monkeypatch.setattr(supervisor, "in_process_api_server", replacement)
    with pytest.raises(RuntimeError, match="in_process_api_server is gone or no longer a cached factory"):
        _hook().install()


def test_install_makes_dags_test_s_factory_serve_one_version(monkeypatch):
    from airflow.sdk.execution_time import supervisor

    airflows = supervisor.in_process_api_server
    monkeypatch.setattr(supervisor, "in_process_api_server", airflows)  # put back after the test
    airflows.cache_clear()
    try:
        _hook().install()
        assert supervisor.in_process_api_server is not airflows
        api = supervisor.in_process_api_server()
        assert supervisor.in_process_api_server() is api
        assert sorted(api.app.router.versioned_routers) == [_api_version()]
    finally:
        airflows.cache_clear()  # the next caller gets an app of Airflow's own making


def test_the_airflow_child_installs_the_hook_for_dags_test_only():
    argv = airflow_command("dags", "test", "retrain")
    code = argv[2]
    assert DAGS_TEST_HOOK.parent == EMBEDDED_AIRFLOW_SETTINGS and DAGS_TEST_HOOK.is_file()
    assert "if sys.argv[1:3] == ['dags', 'test']:" in code and repr(str(DAGS_TEST_HOOK)) in code
    assert argv[3:] == ["dags", "test", "retrain"]
