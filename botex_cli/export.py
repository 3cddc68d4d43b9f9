"""``botex-cli export``: botex and oTree data to CSV."""

from __future__ import annotations

import click

from botex_cli import options


@click.group()
def export() -> None:
    """Export botex or oTree data to CSV."""


def _botex_data_command(name: str, exporter_name: str, summary: str) -> click.Command:
    """An export command for one botex table: CSV_FILE, --session, --botex-db."""

    @click.argument("csv_file")
    @click.option("--session", default=None, help="Only this session.")
    @options.existing_botex_db
    def command(csv_file: str, session: str | None, botex_db: str) -> None:
        import botex_fleet

        getattr(botex_fleet, exporter_name)(csv_file, botex_db, session)
        click.echo(f"{name} written to {csv_file}")

    return click.command(name, help=summary)(command)


for _name, _exporter, _summary in (
    ("participants", "export_participant_data", "The participants and their bots' status."),
    ("responses", "export_response_data", "The bots' answers with their reasons."),
    ("conversations", "export_conversation_data", "Each bot's messages with the LLM, as JSON."),
    ("actions", "export_action_data", "What the bots did on live pages and chats, step by step."),
):
    export.add_command(_botex_data_command(_name, _exporter, _summary))


@export.command()
@click.argument("csv_file")
@click.option("--session", default=None, help="Only this session.")
@options.otree_server_url
@options.otree_rest_key
def otree(csv_file: str, session: str | None, otree_server_url: str, otree_rest_key: str | None) -> None:
    """oTree's wide CSV of all apps."""
    from botex_fleet import export_otree_data

    export_otree_data(csv_file, otree_server_url, rest_key=otree_rest_key, session_id=session)


@export.command()
@click.argument("wide_csv", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option("--prefix", default="", help="Prefix of the file names.")
def normalize(wide_csv: str, output: str, prefix: str) -> None:
    """Split oTree's wide CSV into participant, session, group and player tables."""
    from botex_fleet import normalize_otree_data

    tables = normalize_otree_data(wide_csv, store_as_csv=True, data_exp_path=output, exp_prefix=prefix)
    click.echo(", ".join(f"{name} ({len(rows)} rows)" for name, rows in tables.items()))
