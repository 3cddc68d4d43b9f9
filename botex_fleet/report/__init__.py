"""The study report: one self-contained HTML file of a study's bots, costs, answers and reasons."""

from __future__ import annotations

import tempfile
from pathlib import Path

from botex_core.csv_files import write_file_atomically
from botex_core.errors import ConfigurationError
from botex_fleet.study_export import export_study


def study_report(
    name: str,
    output: str | Path = "report.html",
    botex_db: str | None = None,
    otree_server_url: str | None = None,
    otree_rest_key: str | None = None,
) -> Path:
    """Write the report of study ``name`` to ``output`` (one HTML file that needs no network to view):
    bots by status, tokens and cost per arm and model; each player field's distribution per arm and
    model, with means per round where there are rounds; payoffs; a few reasons per question. The
    numbers are those of :func:`export_study`, which it runs first. Returns the report's path.

    Raises:
        ConfigurationError: The store has no such study, or matplotlib is not installed.
        OtreeError: The oTree server cannot give its data.
    """
    try:
        from botex_fleet.report.data import read_study_export
        from botex_fleet.report.page import render_report
    except ImportError as exc:
        raise ConfigurationError(
            f"the study report needs {exc.name}: pip install 'botex-fleet[report]'") from exc
    with tempfile.TemporaryDirectory() as folder:
        export_study(name, folder, botex_db, otree_server_url, otree_rest_key)
        html = render_report(read_study_export(folder))
    path = Path(output)
    write_file_atomically(str(path), html.encode())
    return path
