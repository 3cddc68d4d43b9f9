"""The pretest report: one self-contained HTML page of what bots made of each page of an experiment."""

from __future__ import annotations

from pathlib import Path

from botex_core.csv_files import write_file_atomically
from botex_core.errors import ConfigurationError
from botex_core.otree.client import OtreeClient
from botex_core.settings import BotexSettings, OtreeSettings, resolve
from botex_core.study.records import study_sessions


def pretest_report(
    output: str | Path = "pretest.html",
    session_ids: list[str] | None = None,
    study: str | None = None,
    botex_db: str | None = None,
    otree_server_url: str | None = None,
    otree_rest_key: str | None = None,
) -> Path:
    """Write the pretest report of sessions already played (``session_ids``, or every session of
    ``study``) to ``output``: one HTML file that needs no network to view. Per page of the experiment,
    in page order: the bots that reached it, their time on it (and their LLM's), oTree's rejections of
    their answers with oTree's messages and the tries they needed, the bots that stayed confused in
    their words, the answers to each field with a few reasons, and a few of the bots' summaries of the
    page; the pages no bot reached; the bots' remarks about the study; at the top, the pages to look at
    (rejections, confusion, slow pages, dead ends), with the model, the bots and the cost. Returns the
    report's path.

    Raises:
        ConfigurationError: Neither sessions nor a study given, or matplotlib is not installed.
        OtreeError: The oTree server cannot give its data.
    """
    local = resolve(BotexSettings, db=botex_db)
    otree = resolve(OtreeSettings, server_url=otree_server_url, rest_key=otree_rest_key)
    codes = list(session_ids or [])
    if study:
        codes += [code for arm_codes in study_sessions(local.db, study).values() for code in arm_codes]
    if not codes:
        raise ConfigurationError("a pretest report needs sessions or a study that were played")
    try:
        from botex_fleet.pretest.data import read_findings
        from botex_fleet.pretest.page import render_pretest
    except ImportError as exc:
        raise ConfigurationError(f"the pretest report needs {exc.name}: pip install 'botex-fleet[report]'") from exc
    findings = read_findings(local.db, codes, OtreeClient(otree.server_url, otree.rest_key))
    html = render_pretest(findings, study or ", ".join(codes))
    path = Path(output)
    write_file_atomically(str(path), html.encode())
    return path
