"""Starting and stopping llama.cpp's ``llama-server`` for local models.

Settings come from the ``config`` dict, else from ``LLAMACPP_<KEY>``
environment variables, else from the defaults of the original botex.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from typing import Any
from urllib.parse import urlparse

import requests
from pydantic import BaseModel, ValidationError

from botex_core.errors import BotexError, ConfigurationError
from botex_core.llm.client import LLAMACPP_DEFAULT_URL
from botex_core.llm.gguf import gguf_context_length
from botex_core.settings import LlamaCppSettings, resolve
from botex_core.processes import last_lines, port_in_use, stop_process_group

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_LENGTH = 4096
_PATH_ALIASES = {"llamacpp_server_path": "server_path", "llamacpp_local_llm_path": "local_llm_path"}


class LlamaCppConfig(BaseModel):
    """The settings of a llama.cpp server."""

    server_path: str
    local_llm_path: str
    server_url: str = LLAMACPP_DEFAULT_URL
    context_length: int | None = None
    number_of_layers_to_offload_to_gpu: int = 0
    temperature: float = 0.5
    maximum_tokens_to_predict: int = 10000
    top_p: float = 0.9
    top_k: int = 40
    num_slots: int = 1
    log_file: str = "llamacpp.log"
    startup_timeout: float = 300.0


class LlamaCppServerError(BotexError):
    """llama-server did not start or is already running."""


def llamacpp_config(config: dict[str, Any] | None, environment: LlamaCppSettings) -> LlamaCppConfig:
    """The server settings: ``config``, then the ``LLAMACPP_*`` variables of ``environment``, then defaults."""
    given = {_PATH_ALIASES.get(key, key): value for key, value in (config or {}).items()}
    from_environment = environment.model_dump(exclude_none=True)
    values = {
        name: given[name] if given.get(name) is not None else from_environment[name]
        for name in LlamaCppConfig.model_fields
        if given.get(name) is not None or name in from_environment
    }
    try:
        return LlamaCppConfig(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"llama.cpp settings: {problems} (set them in config or LLAMACPP_*)") from None


def start_llamacpp_server(config: dict[str, Any] | None = None) -> subprocess.Popen:
    """Start ``llama-server`` with a local model and wait until it serves.

    Args:
        config: Settings with at least ``server_path`` (or
            ``llamacpp_server_path``) and ``local_llm_path``; more keys:
            ``server_url``, ``context_length`` (per slot; from the model file
            when None, else 4096), ``number_of_layers_to_offload_to_gpu``,
            ``temperature``, ``maximum_tokens_to_predict``, ``top_p``,
            ``top_k``, ``num_slots``. Missing keys come from ``LLAMACPP_<KEY>``.

    Returns:
        The server process, leader of its own process group.

    Raises:
        ConfigurationError: A path is missing or a setting malformed.
        LlamaCppServerError: A server already answers at the URL, or the new
            one exited or did not become ready in time.
    """
    settings = llamacpp_config(config, resolve(LlamaCppSettings))
    for path in (settings.server_path, settings.local_llm_path):
        if not os.path.isfile(path):
            raise ConfigurationError(f"llama.cpp: '{path}' does not exist")
    address = urlparse(settings.server_url)
    host, port = address.hostname or "localhost", address.port or 8080
    if port_in_use(host, port):
        raise LlamaCppServerError(f"something already serves at {settings.server_url}")
    context = settings.context_length or gguf_context_length(settings.local_llm_path) or DEFAULT_CONTEXT_LENGTH
    command = [
        settings.server_path,
        "--model", settings.local_llm_path,
        "--host", host,
        "--port", str(port),
        "--ctx-size", str(context * settings.num_slots),
        "--parallel", str(settings.num_slots),
        "--n-gpu-layers", str(settings.number_of_layers_to_offload_to_gpu),
        "--temp", str(settings.temperature),
        "--n-predict", str(settings.maximum_tokens_to_predict),
        "--top-p", str(settings.top_p),
        "--top-k", str(settings.top_k),
    ]
    with open(settings.log_file, "w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + settings.startup_timeout
    while not llamacpp_server_is_up(settings.server_url):
        if process.poll() is not None:
            raise LlamaCppServerError(
                f"llama-server exited with code {process.returncode}: {last_lines(settings.log_file)}"
            )
        if time.monotonic() > deadline:
            stop_llamacpp_server(process)
            raise LlamaCppServerError(f"llama-server was not ready within {settings.startup_timeout:.0f} s")
        time.sleep(0.5)
    logger.info("llama-server serves %s at %s (context %d per slot)", settings.local_llm_path, settings.server_url, context)
    return process


def stop_llamacpp_server(process: subprocess.Popen) -> None:
    """Stop a llama-server started by :func:`start_llamacpp_server`, leaving no process."""
    stop_process_group(process, signal.SIGTERM)
    logger.info("llama-server stopped")


def llamacpp_server_is_up(server_url: str) -> bool:
    """Whether a llama.cpp server at ``server_url`` answers its health check."""
    try:
        return requests.get(f"{server_url.rstrip('/')}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False
