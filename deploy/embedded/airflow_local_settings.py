"""Airflow local settings of fairgate's embedded default: the log servers listen on one address only.

Airflow 3 has no setting for the address its log servers bind to. ``airflow
scheduler`` (with the LocalExecutor that ``airflow standalone`` uses),
``airflow triggerer`` and ``airflow celery worker`` start
``airflow.utils.serve_logs.serve_logs`` in a child process; it runs uvicorn
with ``host=""``, which listens on every interface (``0.0.0.0`` and ``[::]``),
on ``[logging] worker_log_server_port`` (8793) or ``trigger_log_server_port``
(8794). Only the ports are settings (Airflow 3.3.2,
``airflow/utils/serve_logs/core.py``; a pull request for a host setting,
apache/airflow#60117, was closed unmerged).

The closest real mechanism is the one Airflow documents for changing its own
behaviour: every Airflow process imports ``airflow_local_settings`` when it
starts (``airflow.settings.import_local_settings``). This one replaces
``serve_logs`` with the same server bound to ``FAIRGATE_LOG_SERVER_HOST``.
``pipelines.core.project.airflow_environment`` puts this folder on
``PYTHONPATH`` and sets that variable to ``127.0.0.1`` for the embedded default
only; production (docker-compose.yml) never loads it: there the api-server
fetches task logs from the workers across the network.

If Airflow moves ``serve_logs``, the import fails and every Airflow process of
the embedded default stops at start-up with this module's message: never a log
server that silently listens everywhere again.
"""

from __future__ import annotations

import logging
import os
import sys

import airflow.utils.serve_logs as serve_logs_package

HOST_VARIABLE = "FAIRGATE_LOG_SERVER_HOST"
LOG_SERVER_APP = "airflow.utils.serve_logs.log_server:get_app"
ERR_NO_HOST = HOST_VARIABLE + " is not set: fairgate's airflow_local_settings binds the log servers to it"
ERR_MOVED = (
    "airflow.utils.serve_logs.serve_logs is gone (Airflow changed): fairgate's airflow_local_settings "
    "cannot bind the log servers to {host}; update deploy/embedded/airflow_local_settings.py"
)

logger = logging.getLogger(__name__)

LOG_SERVER_HOST = os.environ.get(HOST_VARIABLE, "")
if not LOG_SERVER_HOST:
    raise ImportError(ERR_NO_HOST)
if not callable(getattr(serve_logs_package, "serve_logs", None)):
    raise ImportError(ERR_MOVED.format(host=LOG_SERVER_HOST))


def serve_logs(port: int | None = None) -> None:
    """Airflow's log server (the app, port and log level it reads), on ``LOG_SERVER_HOST`` only."""
    import uvicorn
    from airflow.configuration import conf

    if sys.platform != "darwin":  # as Airflow: setproctitle misbehaves on macOS
        from setproctitle import setproctitle

        setproctitle("airflow serve-logs")
    port = port or conf.getint("logging", "WORKER_LOG_SERVER_PORT")
    logger.info("Starting log server on http://%s:%s", LOG_SERVER_HOST, port)
    uvicorn.run(
        LOG_SERVER_APP,
        host=LOG_SERVER_HOST,
        port=port,
        log_level=conf.get("logging", "uvicorn_logging_level", fallback="info").lower(),
        log_config=None,
        access_log=False,
    )


# the scheduler, the triggerer and the Celery worker import it from the package when they start it
serve_logs_package.serve_logs = serve_logs
__all__: list[str] = []  # nothing here is a cluster policy or a setting for airflow.settings to copy
