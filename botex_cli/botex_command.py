"""``botex``: the single-command interface of the original botex."""

from __future__ import annotations

import click

from botex_cli.version import package_version


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_version(), prog_name="botex")
def botex() -> None:
    """Run an oTree session with LLM bots from one command.

    Running sessions from this command is not part of this release yet; use
    the Python API (botex_core) in the meantime.
    """
    raise click.ClickException("running sessions from 'botex' is not available in this release")
