"""Downloading oTree's wide CSV: through the REST API, or the admin login without a key."""

from __future__ import annotations

import logging
import re

import requests

from botex_core.csv_files import write_file_atomically
from botex_core.errors import OtreeAuthError, OtreeError, OtreeUnreachableError
from botex_core.otree.client import OtreeClient
from botex_core.settings import OtreeSettings, resolve

logger = logging.getLogger(__name__)

_CSRF_INPUT = re.compile(r'name="csrftoken"\s+value="([^"]+)"')


def export_otree_data(
    csv_file: str,
    server_url: str | None = None,
    admin_name: str | None = "admin",
    admin_password: str | None = None,
    time_out: int | None = 10,
    rest_key: str | None = None,
    session_id: str | None = None,
) -> None:
    """Save oTree's wide CSV (all apps) to ``csv_file``.

    With a REST key the data comes from ``/api/export_wide``. Without one the
    REST API is tried as it is (servers without an auth level need no key),
    and when the server asks for a key the admin login is used instead.

    Args:
        csv_file: Where to write the CSV; written only when complete.
        server_url: URL of the server; defaults to ``OTREE_SERVER_URL``.
        admin_name: Admin user name for the login. Defaults to ``admin``.
        admin_password: Admin password; defaults to ``OTREE_ADMIN_PASSWORD``.
        time_out: Seconds to wait for the download. Defaults to 10.
        rest_key: REST key; defaults to ``OTREE_REST_KEY``.
        session_id: Only this session's rows if given.

    Raises:
        OtreeError: The server is unreachable or refuses the download.
    """
    timeout = float(time_out or 10)
    client = OtreeClient.resolved(server_url, rest_key, timeout=timeout)
    try:
        content = client.export_wide(session_id)
    except OtreeAuthError:
        if client.has_rest_key:
            raise
        content = _export_wide_with_login(
            client.server_url,
            admin_name or "admin",
            admin_password or resolve(OtreeSettings).admin_password,
            timeout,
            session_id,
        )
    write_file_atomically(csv_file, content)
    logger.info("oTree wide data saved to %s", csv_file)


def _export_wide_with_login(
    server_url: str,
    admin_name: str,
    admin_password: str | None,
    timeout: float,
    session_id: str | None,
) -> bytes:
    if not admin_password:
        raise OtreeAuthError(
            f"oTree server at {server_url} needs a REST key (OTREE_REST_KEY) "
            "or an admin password (OTREE_ADMIN_PASSWORD) to export data"
        )
    browser = requests.Session()
    try:
        login_page = browser.get(f"{server_url}/login", timeout=timeout)
        token = _CSRF_INPUT.search(login_page.text)
        form = {"username": admin_name, "password": admin_password}
        if token:
            form["csrftoken"] = token.group(1)
        browser.post(f"{server_url}/login", data=form, timeout=timeout)
        params = {"session_code": session_id} if session_id else None
        response = browser.get(f"{server_url}/ExportWide", params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise OtreeUnreachableError(
            f"oTree server at {server_url} is unreachable ({type(exc).__name__})"
        ) from None
    if "text/csv" not in response.headers.get("content-type", ""):
        raise OtreeAuthError(f"oTree server at {server_url} rejected the admin login of '{admin_name}'")
    if not response.ok:
        raise OtreeError(f"oTree server at {server_url} answered {response.status_code} to the export")
    return response.content
