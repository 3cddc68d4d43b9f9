"""The Celery app of the fleet, configured from the environment when first used.

``celery -A botex_worker.app worker`` (or ``botex-cli worker``) runs a worker.
Late acks and reject-on-worker-loss give a bot back to the queue when its
worker dies; the broker's visibility timeout must outlast the longest bot.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from botex_worker import kombu_adapter
from botex_worker.settings import FleetSettings, fleet_settings

EMBEDDED_BROKER = "memory://localhost/"
EMBEDDED_BACKEND = "cache+memory://"

kombu_adapter.apply_fix()
app = Celery("botex", include=["botex_worker.tasks", "botex_worker.reconciler"])
# Worker pool threads look tasks' app up as the default app.
app.set_default()


def celery_config(settings: FleetSettings) -> dict[str, Any]:
    """The Celery configuration of the fleet described by ``settings``."""
    broker = settings.broker_url or EMBEDDED_BROKER
    backend = settings.result_backend or (EMBEDDED_BACKEND if settings.embedded else broker)
    return dict(
        broker_url=broker,
        result_backend=backend,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Look for bots of dead workers every 10 s (Kombu's default: every 100 s).
        broker_transport_options={"visibility_timeout": settings.visibility_timeout, "unacked_restore_throttle": 1},
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout},
        worker_send_task_events=True,
        # No task-sent events: they carry the task's registered name, and Flower lets one that
        # arrives after the worker's task-received replace the bot's name with it.
        # `botex-cli status` shows the bots still queued.
        task_track_started=True,
        # The result backend keeps states and outcomes only, never a task's arguments.
        result_extended=False,
        result_expires=7 * 24 * 3600,
        task_default_queue="botex.default",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )


def configure_app(settings: FleetSettings | None = None) -> Celery:
    """Point the app at the broker of ``settings`` (default: this process's environment, read now)."""
    app.conf.update(celery_config(settings or fleet_settings()))
    return app


# Read from the environment when the configuration is first used, not at import.
app.add_defaults(lambda: celery_config(fleet_settings()))
