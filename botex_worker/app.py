"""The Celery app of the fleet, configured from the environment.

``celery -A botex_worker.app worker`` (or ``botex-cli worker``) runs a worker.
Late acks and reject-on-worker-loss give a bot back to the queue when its
worker dies; the broker's visibility timeout must outlast the longest bot.
"""

from __future__ import annotations

from celery import Celery

from botex_worker.settings import FleetSettings

EMBEDDED_BROKER = "memory://localhost/"
EMBEDDED_BACKEND = "cache+memory://"

app = Celery("botex", include=["botex_worker.tasks"])
# Worker pool threads look tasks' app up as the default app.
app.set_default()


def configure_app(settings: FleetSettings | None = None) -> Celery:
    """Point the app at the broker of ``settings`` (default: the environment)."""
    settings = settings or FleetSettings()
    broker = settings.broker_url or EMBEDDED_BROKER
    backend = settings.result_backend or (EMBEDDED_BACKEND if settings.embedded else broker)
    app.conf.update(
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
        task_send_sent_event=True,
        task_track_started=True,
        result_extended=True,
        result_expires=7 * 24 * 3600,
        task_default_queue="botex.default",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


configure_app()
