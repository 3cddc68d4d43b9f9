"""``botex-cli pretest``: play an experiment with bots (or take sessions already played) and write the
page-by-page pretest report."""

from __future__ import annotations

from pathlib import Path

import click

from botex_cli import options
from botex_cli.progress import check_writable, run_bots_with_progress


@click.command()
@click.option("-s", "--session-config", default=None, help="Create sessions of this config and play them first.")
@click.option("-p", "--nparticipants", type=click.IntRange(min=1), default=None,
              help="Participants per session (with -s; default: the config's num_demo_participants).")
@click.option("--sessions", type=click.IntRange(min=1), default=1, show_default=True, help="Sessions to play (with -s).")
@click.option("--session", "session_ids", multiple=True, help="A session already played (repeat for several).")
@click.option("--study", default=None, help="A study already played: every session of it.")
@options.model
@options.api_base
@options.driver
@options.spend_cap
@options.botex_db
@options.otree_server_url
@options.otree_rest_key
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="pretest.html", show_default=True,
              help="The report's HTML file.")
def pretest(session_config: str | None, nparticipants: int | None, sessions: int, session_ids: tuple[str, ...],
            study: str | None, model: str, api_base: str | None, driver: str | None, botex_db: str,
            otree_server_url: str, otree_rest_key: str | None, output: str, **cap: float | None) -> None:
    """Pre-test an experiment: what the bots made of each page (rejections, confusion, times, answers,
    dead ends), in one HTML file. Play sessions of -s first, or report on --session or --study."""
    import botex_fleet

    if not (session_config or session_ids or study):
        raise click.UsageError("give a session config to play (-s), or sessions (--session) or a study (--study)")
    check_writable(Path(output), folder=False)
    codes = list(session_ids)
    for _ in range(sessions if session_config else 0):
        size = nparticipants or _demo_participants(session_config, otree_server_url, otree_rest_key)
        created = botex_fleet.init_otree_session(session_config, size, botex_db=botex_db,
                                                 otree_server_url=otree_server_url, otree_rest_key=otree_rest_key)
        click.echo(f"session {created['session_id']}: {size} bot(s)")
        run_bots_with_progress(created["session_id"], botex_db, model=model, api_base=api_base, driver=driver, **cap)
        codes.append(created["session_id"])
    path = botex_fleet.pretest_report(output, codes, study, botex_db, otree_server_url, otree_rest_key)
    click.echo(f"pretest report written to {path}")


def _demo_participants(config: str, otree_server_url: str, otree_rest_key: str | None) -> int:
    import botex_fleet

    for known in botex_fleet.get_session_configs(otree_server_url, otree_rest_key):
        if known["name"] == config:
            return int(known["num_demo_participants"])
    raise click.BadParameter(f"the oTree server has no session config '{config}'", param_hint="-s")
