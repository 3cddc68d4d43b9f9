"""The example oTree project, copied into a benchmark's workspace and served on a free port."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import botex_fleet
from tests.support.services import free_port

EXAMPLE_PROJECT = Path(__file__).resolve().parent.parent / "examples" / "otree"


def start_example_otree(workspace: Path) -> tuple[subprocess.Popen, str]:
    """Serve a copy of the example project; return the server process and its URL
    (also set as ``OTREE_SERVER_URL``)."""
    project = workspace / "otree"
    shutil.copytree(EXAMPLE_PROJECT, project, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"))
    process = botex_fleet.start_otree_server(str(project), free_port(), str(workspace / "otree.log"), timeout=60)
    return process, os.environ["OTREE_SERVER_URL"]
