"""``botex-cli run``: the whole job on this machine, with no servers for the fleet."""

from __future__ import annotations

from pathlib import Path

import click

from botex_cli import options
from botex_cli.progress import check_writable, fail_unless_all_finished, run_bots_with_progress


@click.command()
@options.session_config
@options.nparticipants("Participants")
@options.nhumans
@options.model
@options.api_base
@options.driver
@options.live_limits
@options.spend_cap
@options.botex_db
@options.otree_server_url
@options.otree_rest_key
@click.option("-o", "--output", type=click.Path(file_okay=False), default="botex-export", show_default=True, help="Folder for the exported data.")
def run(session_config: str, nparticipants: int, nhumans: int, model: str, api_base: str | None, driver: str | None,
        botex_db: str, otree_server_url: str, otree_rest_key: str | None, output: str, **live: float | None) -> None:
    """Create a session, run its bots in this process, and export botex and oTree data."""
    import botex_fleet

    from botex_worker.queues import queue_for

    folder = Path(output)
    check_writable(folder, folder=True)
    queue_for(model)  # a model of an unknown provider stops here, before a session is made
    session = botex_fleet.init_otree_session(session_config, nparticipants, nhumans, botex_db=botex_db,
                                            otree_server_url=otree_server_url, otree_rest_key=otree_rest_key)
    code = session["session_id"]
    click.echo(f"session {code}: {nparticipants - nhumans} bot(s)")
    for url in session["human_urls"]:
        click.echo(f"  human: {url}")
    run_bots_with_progress(code, botex_db, model=model, api_base=api_base, driver=driver, **live)
    folder.mkdir(parents=True, exist_ok=True)
    botex_fleet.export_participant_data(str(folder / "botex_participants.csv"), botex_db, code)
    botex_fleet.export_response_data(str(folder / "botex_responses.csv"), botex_db, code)
    botex_fleet.export_action_data(str(folder / "botex_actions.csv"), botex_db, code)
    wide = folder / "otree_wide.csv"
    botex_fleet.export_otree_data(str(wide), otree_server_url, rest_key=otree_rest_key, session_id=code)
    botex_fleet.normalize_otree_data(str(wide), store_as_csv=True, data_exp_path=str(folder), exp_prefix="otree")
    click.echo(f"data of session {code} in {folder}")
    fail_unless_all_finished(code, botex_db)
