"""Every command's errors as one line: a :class:`BotexError` becomes click's usage-free error message."""

from __future__ import annotations

from typing import Any

import click

from botex_core.errors import BotexError


class _OneLineErrors:
    """Turns a BotexError raised while the command runs into a one-line error and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except BotexError as exc:
            raise click.ClickException(str(exc)) from None


class BotexGroup(_OneLineErrors, click.Group):
    """A command group whose subcommands' BotexErrors end in one line."""


class BotexCommand(_OneLineErrors, click.Command):
    """A command whose BotexErrors end in one line."""
