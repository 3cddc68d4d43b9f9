"""``botex-cli``: the command line of botex-fleet."""

from __future__ import annotations

import os

import click

from botex_cli.errors import BotexGroup
from botex_cli.export import export
from botex_cli.flower import flower
from botex_cli.llamacpp import llamacpp
from botex_cli.pretest import pretest
from botex_cli.retry import retry
from botex_cli.run import run
from botex_cli.status import status
from botex_cli.study import study
from botex_cli.submit import submit
from botex_cli.version import package_version
from botex_cli.worker import worker
from botex_core.settings import DEFAULT_ENV_FILE, load_botex_env


@click.group(cls=BotexGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_version(), prog_name="botex-cli")
@click.option("--env-file", default=DEFAULT_ENV_FILE, show_default=True, help="dotenv file with settings; missing is fine.")
def cli(env_file: str) -> None:
    """Run LLM participants ("bots") in oTree experiments, on one machine or a fleet."""
    if os.path.exists(env_file):
        load_botex_env(env_file)


for command in (submit, worker, status, retry, run, pretest, export, study, llamacpp, flower):
    cli.add_command(command)
