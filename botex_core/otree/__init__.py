"""The oTree side: REST client, local server, sessions, data export and normalisation."""

from botex_core.otree.client import OtreeClient
from botex_core.otree.export import export_otree_data
from botex_core.otree.normalize import normalize_otree_data
from botex_core.otree.server import otree_server_is_running, start_otree_server, stop_otree_server
from botex_core.otree.sessions import get_bot_urls, get_session_configs, init_otree_session

__all__ = [
    "OtreeClient",
    "export_otree_data",
    "get_bot_urls",
    "get_session_configs",
    "init_otree_session",
    "normalize_otree_data",
    "otree_server_is_running",
    "start_otree_server",
    "stop_otree_server",
]
