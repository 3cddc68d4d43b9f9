"""Starting and stopping a local oTree server in its own process group.

oTree pins old libraries, so it runs from its own virtual environment: the
``otree`` executable is a parameter, else ``OTREE_EXECUTABLE``, else the one on
``PATH``.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time

from botex_core.errors import ConfigurationError, OtreeError, OtreeServerStartError
from botex_core.otree.client import OtreeClient
from botex_core.settings import OtreeSettings, environment_for_child, publish_otree_server, resolve
from botex_core.processes import group_alive, last_lines, port_in_use, stop_process_group

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0


def otree_server_is_running(server_url: str | None = None, rest_key: str | None = None) -> bool:
    """Whether an oTree server answers at ``server_url`` (default ``OTREE_SERVER_URL``).

    Args:
        server_url: URL of the server; defaults to ``OTREE_SERVER_URL``.
        rest_key: REST key; defaults to ``OTREE_REST_KEY``.

    Returns:
        True if the server answered with its version, False otherwise.
    """
    try:
        OtreeClient.resolved(server_url, rest_key, timeout=5).version()
    except OtreeError:
        return False
    return True


def start_otree_server(
    project_path: str | None = None,
    port: int | None = None,
    log_file: str | None = None,
    auth_level: str | None = None,
    rest_key: str | None = None,
    admin_password: str | None = None,
    timeout: int = 5,
    otree_executable: str | None = None,
) -> subprocess.Popen:
    """Start ``otree devserver`` for a project and wait until it answers.

    Args:
        project_path: The oTree project folder; defaults to ``OTREE_PROJECT_PATH``.
        port: Port to serve on; defaults to ``OTREE_PORT``, else 8000.
        log_file: Where the server's output goes; defaults to ``OTREE_LOG_FILE``,
            else ``otree.log``.
        auth_level: ``DEMO`` or ``STUDY`` sets ``OTREE_AUTH_LEVEL`` (and then
            ``rest_key`` and ``admin_password`` their variables); None leaves
            the environment as it is.
        rest_key: The server's REST key; defaults to ``OTREE_REST_KEY``.
        admin_password: The admin password, passed as ``OTREE_ADMIN_PASSWORD``.
        timeout: Seconds to wait for the server to answer. Defaults to 5.
        otree_executable: The ``otree`` command to run; defaults to
            ``OTREE_EXECUTABLE``, else ``otree`` on ``PATH``.

    Returns:
        The server process, leader of its own process group. Once it answers,
        ``OTREE_SERVER_URL`` is set to its URL (and, with ``auth_level``, the
        auth variables to the values given), as the original botex does.

    Raises:
        ConfigurationError: The project, the executable or the port is unusable.
        OtreeServerStartError: The server exited or did not answer in time.
    """
    otree = resolve(OtreeSettings, project_path=project_path, port=port, log_file=log_file,
                    executable=otree_executable)
    project = _project_folder(otree.project_path)
    port, log_path = otree.port, otree.log_file
    executable = _otree_executable(otree.executable)
    if port_in_use("127.0.0.1", port):
        raise ConfigurationError(f"cannot start oTree: port {port} is already in use")

    server_url = f"http://localhost:{port}"
    environment = environment_for_child()
    # devserver starts its worker as plain `otree`, so its venv must lead PATH.
    environment["PATH"] = os.path.dirname(executable) + os.pathsep + environment.get("PATH", "")
    if auth_level is not None:
        given = {"OTREE_AUTH_LEVEL": auth_level, "OTREE_REST_KEY": rest_key, "OTREE_ADMIN_PASSWORD": admin_password}
        environment.update({name: value for name, value in given.items() if value is not None})

    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [executable, "devserver", str(port)],
            cwd=project,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            start_new_session=True,
        )

    deadline = time.monotonic() + timeout
    while not otree_server_is_running(server_url, rest_key):
        if process.poll() is not None:
            raise OtreeServerStartError(
                f"oTree exited with code {process.returncode} while starting: "
                f"{last_lines(log_path)}"
            )
        if time.monotonic() > deadline:
            stop_otree_server(process)
            raise OtreeServerStartError(
                f"oTree at {server_url} did not answer within {timeout} seconds "
                f"(log: {log_path})"
            )
        time.sleep(0.25)
    logger.info("oTree server answers at %s", server_url)
    publish_otree_server(server_url, auth_level, rest_key, admin_password)
    return process


def stop_otree_server(otree_server: subprocess.Popen) -> int | None:
    """Stop an oTree server and every process of its group.

    Interrupts the group as Control+C would, so oTree saves its database, and
    kills what is left after a grace period.

    Args:
        otree_server: The process returned by :func:`start_otree_server`.

    Returns:
        The exit code of the server process.
    """
    if otree_server.poll() is not None and not group_alive(otree_server.pid):
        logger.warning("oTree server had already stopped")
        return otree_server.returncode
    code = stop_process_group(otree_server, signal.SIGINT, STOP_GRACE_SECONDS)
    logger.info("oTree server stopped")
    return code


def _project_folder(project: str | None) -> str:
    if project is None:
        raise ConfigurationError("no oTree project: pass project_path or set OTREE_PROJECT_PATH")
    if not os.path.isfile(os.path.join(project, "settings.py")):
        raise ConfigurationError(f"'{project}' is not an oTree project (it has no settings.py)")
    return project


def _otree_executable(candidate: str) -> str:
    found = shutil.which(candidate)
    if found is None:
        raise ConfigurationError(
            f"oTree executable '{candidate}' not found: install oTree in its own "
            "virtual environment and set OTREE_EXECUTABLE to its 'otree'"
        )
    return os.path.abspath(found)
