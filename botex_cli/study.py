"""``botex-cli study``: many sessions across models and personas from one study file."""

from __future__ import annotations

import click


@click.group()
def study() -> None:
    """Studies: arms of oTree sessions and the bots that play them, declared in a TOML file."""


@study.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
def plan(study_file: str) -> None:
    """Check STUDY_FILE and show its sessions and bots per arm and model; nothing runs."""
    from botex_core.study.spec import read_study

    spec = read_study(study_file)
    click.echo(f"{'arm':<16} {'session config':<20} {'sessions':>8} {'bots':>6}  model")
    for arm in spec.arms:
        for model, bots in sorted(arm.bots_by_model().items()):
            click.echo(f"{arm.name:<16} {arm.session_config:<20} {arm.sessions:>8} {bots:>6}  {model}")
    sessions = sum(arm.sessions for arm in spec.arms)
    bots = sum(arm.sessions * arm.bots_per_session for arm in spec.arms)
    click.echo(f"study {spec.name}: {len(spec.arms)} arm(s), {sessions} session(s), {bots} bot(s)")
