"""The governance plugin as Airflow's plugin loader sees it: one plugin, loaded from one file, importing nothing heavy.

Airflow execs every ``.py`` file of its plugins folder by path and loads plugins
in every task process (for their macros), so ``plugins/.airflowignore`` must
leave only the entry module and that module must stay light: the FastAPI app
(and with it Airflow's API security, MLflow and the gathering code) is built
only when the API server reads ``fastapi_apps``. The real server, the sign-in
and the pages are tested in tests/e2e/test_governance_view_browser.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
HEAVY = ("mlflow", "fastapi", "starlette", "pipelines", "pandas", "sklearn", "sqlalchemy.orm", "airflow.api_fastapi")


def _in_fresh_interpreter(code: str) -> object:
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PLUGINS.parent
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_airflow_loads_exactly_the_governance_plugin_from_its_entry_module():
    loaded = _in_fresh_interpreter(
        "import json, sys\n"
        "from airflow._shared.plugins_manager.plugins_manager import _load_plugins_from_plugin_directory\n"
        f"plugins, errors = _load_plugins_from_plugin_directory({str(PLUGINS)!r})\n"
        "print(json.dumps({'plugins': [(p.name, str(p.source)) for p in plugins], 'errors': errors,\n"
        "                  'stray': [m for m in ('app', '__init__') if m in sys.modules]}))\n"
    )
    assert loaded == {
        "plugins": [["fairgate_governance", "$PLUGINS_FOLDER/fairgate_governance/plugin.py"]],
        "errors": {},
        "stray": [],
    }


def test_loading_the_plugin_imports_nothing_heavy_until_the_api_server_asks_for_its_app():
    found = _in_fresh_interpreter(
        "import json, sys\n"
        f"sys.path.append({str(PLUGINS)!r})\n"
        "import airflow.plugins_manager\n"
        "baseline = set(sys.modules)\n"
        "import fairgate_governance.plugin as plugin\n"
        f"heavy = {HEAVY!r}\n"
        "def loaded():\n"
        "    new = [m for m in set(sys.modules) - baseline if m.startswith(heavy)]\n"
        "    two = ('airflow.', 'sqlalchemy.')\n"
        "    return sorted({'.'.join(m.split('.')[:2]) if m.startswith(two) else m.split('.')[0] for m in new})\n"
        "before = loaded()\n"
        "apps = plugin.FairgateGovernancePlugin().fastapi_apps\n"
        "print(json.dumps({'before': before, 'after': loaded(),\n"
        "                  'apps': [(a['name'], a['url_prefix'], type(a['app']).__name__) for a in apps],\n"
        "                  'once': plugin.FairgateGovernancePlugin().fastapi_apps is apps}))\n"
    )
    assert found["before"] == []
    assert {"fastapi", "airflow.api_fastapi", "pipelines"} <= set(found["after"])  # the app really was built
    assert found["apps"] == [["fairgate governance", "/fairgate", "FastAPI"]]
    assert found["once"] is True
