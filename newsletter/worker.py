"""Celery entry point: ``celery -A newsletter.worker worker -n name@%h`` (also installed)."""

import os
import tempfile

if os.environ.get("WORKER_METRICS_PORT") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # prometheus-client chooses per-process files at import, so this comes before the app:
    # the pool's processes, forked later, count into files the worker's server sums.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="newsletter-metrics-")

from celery.signals import worker_init, worker_process_shutdown  # noqa: E402

from . import create_app  # noqa: E402

flask_app = create_app()
celery = flask_app.extensions["celery"]


@worker_init.connect
def serve_metrics(**_):
    port = flask_app.config["WORKER_METRICS_PORT"]
    if port:
        from prometheus_client import start_http_server

        from .metrics import worker_registry

        start_http_server(
            port,
            addr=flask_app.config["WORKER_METRICS_ADDRESS"],
            registry=worker_registry(flask_app),
        )


@worker_process_shutdown.connect
def forget_pool_process(pid=None, **_):
    if flask_app.config["WORKER_METRICS_PORT"]:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
