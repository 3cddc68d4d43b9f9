"""``botex-cli study``: many sessions across models and personas from one study file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from botex_cli import options

if TYPE_CHECKING:
    from botex_fleet.plan import StudyPlan
    from botex_fleet.studies import StudyRun


@click.group()
def study() -> None:
    """Studies: arms of oTree sessions and the bots that play them, declared in a TOML file."""


@study.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@options.botex_db
@options.spend_cap
@click.option("--dry-run", is_flag=True,
              help="Estimate every arm by playing one session of it on the oTree server with answers made "
                   "from the reply schemas (for an experiment never played, or changed since): no LLM is asked, "
                   "nothing is spent.")
@options.otree_server_url
@options.otree_rest_key
def plan(study_file: str, botex_db: str, max_cost: float | None, max_tokens: int | None, dry_run: bool,
         otree_server_url: str, otree_rest_key: str | None) -> None:
    """Check STUDY_FILE and show its sessions and bots per arm and model, with the LLM calls, tokens
    and cost estimated from the bots of the same session config and model that finished before in
    the botex database (or, with --dry-run, from a dry run), and whether the estimate passes the
    spend cap; nothing is spent."""
    from botex_core.settings import BotexSettings, resolve
    from botex_fleet.plan import plan_study

    planned = plan_study(study_file, botex_db, dry_run, otree_server_url, otree_rest_key,
                         show=lambda line: click.echo(line, err=True))
    click.echo(f"{'arm':<16} {'session config':<20} {'sessions':>8} {'bots':>5} {'calls':>7} {'tokens in':>10} "
               f"{'tokens out':>10} {'cost $':>9}  {'basis':<34} model")
    for row in planned.rows:
        guess = row.estimate
        numbers = (f"{guess.llm_calls:>7.0f} {guess.prompt_tokens:>10.0f} {guess.completion_tokens:>10.0f} "
                   f"{_dollars(guess.cost_usd):>9}  {guess.basis_text:<34}") if guess else \
            f"{'?':>7} {'?':>10} {'?':>10} {'?':>9}  {'none':<34}"
        click.echo(f"{row.arm:<16} {row.session_config:<20} {row.sessions:>8} {row.bots:>5} {numbers} {row.model}")
    total = "unknown" if planned.tokens is None else _dollars(planned.cost_usd)
    click.echo(f"study {planned.name}: {len({row.arm for row in planned.rows})} arm(s), "
               f"{planned.sessions} session(s), {planned.bots} bot(s), estimated cost {total}")
    for line in _basis_notes(planned):
        click.echo(line, err=True)
    cap = resolve(BotexSettings, max_cost=max_cost, max_tokens=max_tokens)
    for warning in planned.passed_caps(cap.max_cost, cap.max_tokens):
        click.echo(f"warning: {warning}", err=True)


def _basis_notes(planned: StudyPlan) -> list[str]:
    """What each kind of basis in the plan means."""
    estimates = [row.estimate for row in planned.rows]
    notes = []
    if any(guess and not guess.dry_run for guess in estimates):
        notes.append("earlier bot(s): the averages of the most recent bots of that session config and model "
                     "that finished in this botex database")
    if any(guess and guess.dry_run for guess in estimates):
        notes.append("dry run: one session played with answers made from the reply schemas; its prompt tokens are "
                     "the real prompts counted with the model's tokenizer, its reply tokens assume replies two "
                     "fifths of their allowed length, and its calls assume every answer accepted at the first try")
    if any(guess and guess.retries_of for guess in estimates):
        notes.append("x retries of N: the dry run's first tries times the calls and tokens the model's N most recent "
                     "bots in this botex database (any experiment) used over those of their first tries")
    if None in estimates:
        notes.append("?: no bot of that session config and model finished before in this botex database "
                     "(--dry-run estimates it without an LLM)")
    if any(guess and guess.cost_usd is None for guess in estimates):
        notes.append("n/a: LiteLLM has no price for the model")
    return notes


def _dollars(cost: float | None) -> str:
    return "n/a" if cost is None else f"{cost:.4f}"


@study.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@options.botex_db
@options.otree_server_url
@options.otree_rest_key
@options.spend_cap
def run(study_file: str, botex_db: str, otree_server_url: str, otree_rest_key: str | None, **cap: float | None) -> None:
    """Create every session of STUDY_FILE and run all its bots in this process (no servers needed)."""
    from botex_worker.settings import fleet_settings

    if not fleet_settings().embedded:
        raise click.ClickException("BOTEX_BROKER_URL is set: submit the study to the fleet with 'botex-cli study submit'")
    _play(study_file, botex_db, otree_server_url, otree_rest_key, True, cap)


@study.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@options.botex_db
@options.otree_server_url
@options.otree_rest_key
@click.option("--wait", is_flag=True, help="Show progress per arm until every bot has ended.")
@options.spend_cap
def submit(study_file: str, botex_db: str, otree_server_url: str, otree_rest_key: str | None, wait: bool,
           **cap: float | None) -> None:
    """Create every session of STUDY_FILE and put its bots on the fleet's queues (each on its provider's)."""
    from botex_worker.settings import fleet_settings

    options.require_broker(fleet_settings().embedded, "there is no fleet to submit to (use 'botex-cli study run')")
    _play(study_file, botex_db, otree_server_url, otree_rest_key, wait, cap)


@study.command()
@click.argument("name")
@options.existing_botex_db
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(name: str, botex_db: str, as_json: bool) -> None:
    """Where the bots of study NAME stand, per arm and model: bots by status, pages, answers, tokens, cost."""
    import json
    from dataclasses import asdict

    from botex_cli.status import progress_table
    from botex_core.progress import bots_progress
    from botex_core.store import ledger
    from botex_core.store.engine import masked

    groups = ledger.study_bots(botex_db, name)
    if not groups:
        raise click.ClickException(f"no study '{name}' in the botex database '{masked(botex_db)}'")
    progress = {key: bots_progress(ids, botex_db) for key, ids in groups.items()}
    if as_json:
        rows = [{"arm": arm, "model": model, **asdict(counts)} for (arm, model), counts in progress.items()]
        click.echo(json.dumps(rows, indent=2))
        return
    report = {f"{arm} {model}": counts for (arm, model), counts in progress.items()}
    for line in progress_table("arm model", report):
        click.echo(line)


@study.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Folder for the data.")
@options.existing_botex_db
@options.otree_server_url
@options.otree_rest_key
def export(name: str, output: str, botex_db: str, otree_server_url: str, otree_rest_key: str | None) -> None:
    """Write study NAME's botex and oTree tables (every participant row with its arm, model, persona
    and bot status) and manifest.json to a folder."""
    from botex_cli.progress import check_writable
    from botex_fleet.study_export import export_study

    check_writable(Path(output), folder=True)
    manifest = export_study(name, output, botex_db, otree_server_url, otree_rest_key)
    click.echo(f"study {name}: data and {manifest.name} in {output}")


@study.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="The HTML file to write.")
@options.existing_botex_db
@options.otree_server_url
@options.otree_rest_key
def report(name: str, output: str, botex_db: str, otree_server_url: str, otree_rest_key: str | None) -> None:
    """Write study NAME's report: one HTML file (viewable with no network) with bots, tokens and cost per
    arm and model, each player field's distribution and means per round, payoffs, and reasons."""
    from botex_cli.progress import check_writable
    from botex_fleet.report import study_report

    check_writable(Path(output), folder=False)
    path = study_report(name, output, botex_db, otree_server_url, otree_rest_key)
    click.echo(f"study {name}: report in {path}")


@study.command()
@click.argument("name")
@click.option("--strict", is_flag=True,
              help="Fail a bot whose request no stored exchange answers, instead of asking its model.")
@click.option("--as", "replay_name", help="The replay's own study name  [default: NAME-replay, numbered when taken]")
@options.existing_botex_db
@options.otree_server_url
@options.otree_rest_key
def replay(name: str, strict: bool, replay_name: str | None, botex_db: str, otree_server_url: str,
           otree_rest_key: str | None) -> None:
    """Play study NAME again on new sessions in this process, each bot's LLM requests answered from the
    exchanges its original stored (no LLM cost); print the hits and misses, and whether the answers
    equal the original run's."""
    from botex_fleet.replay import replay_study

    replayed = _with_progress(botex_db, True, lambda on_session, on_created: replay_study(
        name, botex_db, otree_server_url, otree_rest_key, strict, replay_name, on_session, on_created))
    counts = replayed.counts(botex_db)
    click.echo(f"replay {replayed.name} of study {name}: {counts.hits} request(s) answered from stored exchanges, "
               f"{counts.misses} not (sent to the model{', or refused' if strict else ''}); the answers of "
               f"{replayed.equal_answers(botex_db)} of {len(replayed.bots)} bots equal their original's")
    _check_finished(replayed, botex_db)


def _play(study_file: str, botex_db: str, otree_server_url: str, otree_rest_key: str | None, wait: bool,
          cap: dict[str, float | None]) -> None:
    """Run or submit the study (within the spend ``cap``), with a progress line per arm while it runs."""
    from botex_fleet.studies import run_study

    played = _with_progress(botex_db, wait, lambda on_session, on_created: run_study(
        study_file, botex_db, otree_server_url, otree_rest_key, wait, on_session, on_created, **cap))
    if not wait:
        click.echo(f"study {played.name}: {len(played.bots)} bot(s) queued; see 'botex-cli status'")
        return
    _check_finished(played, botex_db)
    click.echo(f"study {played.name}: all {len(played.bots)} bots finished")


def _with_progress(botex_db: str, wait: bool, start: Callable[..., StudyRun]) -> StudyRun:
    """Call ``start(on_session, on_created)``, which creates a study's sessions and plays them; print each
    session as it is created and, when ``wait``, a progress line per arm until ``start`` returns."""
    from botex_fleet.studies import ArmProgress

    progress = ArmProgress(botex_db, lambda line: click.echo(line, err=True)) if wait else None
    try:
        return start(lambda arm, code: click.echo(f"arm {arm}: session {code} created"),
                     progress.start if progress else None)
    finally:
        if progress:
            progress.stop()


def _check_finished(played: StudyRun, botex_db: str) -> None:
    unfinished = sum(p.bots - p.finished for p in played.progress(botex_db).values())
    if unfinished:
        raise click.ClickException(f"{unfinished} of {len(played.bots)} bots did not finish; see 'botex-cli status'")
