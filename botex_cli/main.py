"""``botex-cli``: the command line of botex-fleet."""

from __future__ import annotations

import click

from botex_cli.version import package_version


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_version(), prog_name="botex-cli")
def cli() -> None:
    """Run LLM participants ("bots") in oTree experiments, on one machine or a fleet."""
