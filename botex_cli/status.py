"""``botex-cli status``: where the bots of each session stand."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from botex_cli import options
from botex_core.progress import RECOVERING, SessionProgress

STATUSES = ("created", "queued", "running", RECOVERING, "finished", "failed", "abandoned")
# Columns shown only while a bot has that status: bots never queued, bots being recovered.
OCCASIONAL = ("created", RECOVERING)


@click.command()
@click.argument("session", required=False)
@options.existing_botex_db
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(session: str | None, botex_db: str, as_json: bool) -> None:
    """Bots per status, pages, answers, tokens and estimated cost of one session (or of all)."""
    from botex_core.progress import session_progress
    from botex_core.store import ledger

    codes = [session] if session else ledger.session_codes(botex_db)
    report = {code: session_progress(code, botex_db) for code in codes}
    if as_json:
        click.echo(json.dumps({code: asdict(progress) for code, progress in report.items()}, indent=2))
        return
    for line in progress_table("session", report):
        click.echo(line)
    if any(progress.cost_usd is None for progress in report.values()):
        click.echo("cost n/a: LiteLLM has no price for the model", err=True)


def progress_table(label: str, report: dict[str, SessionProgress]) -> list[str]:
    """A table with a row per entry of ``report`` (its first column headed ``label``): bots by status,
    pages, answers, actions on interactive pages, LLM calls, tokens and estimated cost."""
    shown = [s for s in STATUSES if s not in OCCASIONAL or any(p.by_status.get(s) for p in report.values())]
    width = max([len(label), *map(len, report)])
    spending = any(progress.spend for progress in report.values())
    lines = [
        f"{label:<{width}} {'bots':>5} " + " ".join(f"{s:>9}" for s in shown)
        + f" {'pages':>6} {'answers':>8} {'actions':>8} {'calls':>6} {'tokens':>9} {'cost $':>9}"
        + ("  spent of cap" if spending else "")
    ]
    for name, progress in report.items():
        counts = " ".join(f"{progress.by_status.get(s, 0):>9}" for s in shown)
        tokens = progress.prompt_tokens + progress.completion_tokens
        cost = "n/a" if progress.cost_usd is None else f"{progress.cost_usd:.4f}"
        lines.append(
            f"{name:<{width}} {progress.bots:>5} {counts} {progress.pages:>6} {progress.answers:>8}"
            f" {progress.actions:>8} {progress.llm_calls:>6} {tokens:>9} {cost:>9}"
            + (f"  {progress.spend or '-'}" if spending else "")
        )
    return lines
