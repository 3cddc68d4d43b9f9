"""The message of a bot's task: one versioned model, written by dispatch, read by the task and the reconciler.

The task's single argument and the copy kept with the participant in the store
(``participants.bot_settings``) are both a :class:`BotMessage` as JSON. Each
carries its ``version``; a message of a version this code does not know is
never dropped or half-read: :meth:`BotMessage.read` refuses it, and the task
queues the bot again from its stored copy or ends it with the reason.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from botex_core.bot.job import BotSettings, Waiting
from botex_core.errors import BotexError

# Version 1: the first versioned shape. Messages queued before versions had the same fields
# without ``version`` and are read as version 1.
MESSAGE_VERSION = 1
# What never travels in a message: the values stay in the process that has them.
_SECRET_SETTINGS = {"api_key", "private_parameters"}
_REFERENCES = ("api_key_ref", "botex_db_ref", "private_parameters_ref")


class UnreadableMessage(BotexError):
    """A task message that this code cannot read: of an unknown version, or malformed."""


class BotMessage(BaseModel):
    """Everything a worker needs to run one bot; references to secrets, never the secrets."""

    model_config = ConfigDict(extra="forbid")

    version: int = MESSAGE_VERSION
    settings: BotSettings
    queue: str
    # Where the bot was queued for: fleet workers (the reconciler looks after it) or this process.
    on_fleet: bool = False
    # Keys to secrets held in the memory of the process that queued the bot (embedded mode).
    api_key_ref: str | None = None
    botex_db_ref: str | None = None
    private_parameters_ref: str | None = None
    # The wait page the bot left to give its slot back, to come back to.
    waiting: Waiting | None = None
    # An outage the bot waits out: runs that failed on it, since when, and the run whose lease was left.
    infrastructure_failures: int = 0
    outage_since: float | None = None
    previous_owner: str | None = None

    @model_validator(mode="after")
    def _no_secrets(self) -> BotMessage:
        if self.settings.api_key or self.settings.private_parameters:
            raise ValueError("a bot's message never carries its secrets, only references to them")
        return self

    @classmethod
    def read(cls, raw: Any) -> BotMessage:
        """The message in ``raw`` (a task's argument, or a stored copy as JSON text).

        Raises:
            UnreadableMessage: It is of a version this code does not know, or not a bot's message.
        """
        data = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(data, dict):
            raise UnreadableMessage("not a bot's message")
        version = data.get("version", MESSAGE_VERSION)
        if version != MESSAGE_VERSION:
            raise UnreadableMessage(f"a message of version {version}; this botex-fleet reads version {MESSAGE_VERSION}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(map(str, error["loc"]))
            raise UnreadableMessage(f"a malformed message: {where}: {error['msg']}") from None

    @classmethod
    def of(cls, settings: BotSettings, queue: str, **fields: Any) -> BotMessage:
        """The message of a bot with ``settings`` on ``queue``, without its secrets."""
        public = {name: value for name, value in vars(settings).items() if name not in _SECRET_SETTINGS}
        return cls(settings=BotSettings(**public), queue=queue, **fields)

    def task_argument(self) -> dict[str, Any]:
        """The message as the task's argument (JSON-ready)."""
        return self.model_dump(mode="json", exclude={"settings": _SECRET_SETTINGS})

    def stored(self) -> str:
        """The copy kept in the store: the message without references to secrets of this process."""
        return self.model_copy(update=dict.fromkeys(_REFERENCES)).model_dump_json(exclude={"settings": _SECRET_SETTINGS})

    @property
    def name(self) -> str:
        """The participant code, for logs."""
        return self.settings.participant_id
