"""A study file: arms of oTree sessions and the bots that play them, read from TOML and
checked before anything starts.

An arm names its session config, how many sessions, participants and humans per
session, and its bots: one spec for every bot (``[arms.bots]``) or one per bot
position (``[[arms.positions]]``, in oTree's order of the bots). A bot spec has a
model, an ``api_base``, completion parameters, prompt overrides, a driver and a
persona: text, or rows of a CSV file that fill a template. Keys never appear in
the file; providers' keys come from the environment.
"""

from __future__ import annotations

import csv
import string
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from botex_core.bot.prompts import build_prompts
from botex_core.errors import ConfigurationError
from botex_core.llm.credentials import is_credential_name
from botex_core.settings import DEFAULT_MODEL

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonaRows(_Strict):
    """Personas drawn from a CSV file, one row per bot, its columns filling ``template``."""

    csv: Path
    template: str = Field(min_length=1)


class BotSpec(_Strict):
    """How the bots of an arm (or of one position) play."""

    model: str = DEFAULT_MODEL
    api_base: str | None = None
    driver: Literal["auto", "http", "browser"] | None = None
    full_conv_history: bool = False
    completion: dict[str, float | int | str | bool] = Field(default_factory=dict)
    prompts: dict[str, str] = Field(default_factory=dict)
    persona: str | PersonaRows | None = None

    @model_validator(mode="after")
    def _known_prompts(self) -> BotSpec:
        build_prompts(self.prompts)
        return self


class Arm(_Strict):
    """Sessions of one config, all played by bots of the same specs."""

    name: Name
    session_config: str = Field(min_length=1)
    sessions: int = Field(default=1, ge=1)
    participants: int = Field(ge=1)
    humans: int = Field(default=0, ge=0)
    bots: BotSpec | None = None
    positions: list[BotSpec] | None = None

    @model_validator(mode="after")
    def _bots_fit_the_sessions(self) -> Arm:
        if self.humans >= self.participants:
            raise ValueError(f"{self.humans} humans leave no bot among {self.participants} participants")
        if (self.bots is None) == (self.positions is None):
            raise ValueError("give either [arms.bots] (one spec for all bots) or [[arms.positions]] (one per bot)")
        if self.positions is not None and len(self.positions) != self.bots_per_session:
            raise ValueError(f"{len(self.positions)} positions for {self.bots_per_session} bots per session")
        return self

    @property
    def bots_per_session(self) -> int:
        """Bots in each session of the arm."""
        return self.participants - self.humans

    def spec_of(self, position: int) -> BotSpec:
        """The spec of the bot at ``position`` (0-based, in oTree's order of the bots)."""
        return self.positions[position] if self.positions is not None else self.bots  # type: ignore[return-value]

    def bots_by_model(self) -> Counter[str]:
        """How many bots of each model the arm runs, over all its sessions."""
        return Counter({model: count * self.sessions for model, count in
                        Counter(self.spec_of(p).model for p in range(self.bots_per_session)).items()})


class Study(_Strict):
    """A study: its name and its arms."""

    name: Name
    arms: list[Arm] = Field(min_length=1)

    @model_validator(mode="after")
    def _arm_names_differ(self) -> Study:
        twice = sorted(name for name, count in Counter(arm.name for arm in self.arms).items() if count > 1)
        if twice:
            raise ValueError(f"arm names must differ: {', '.join(twice)}")
        return self


def read_study(path: str | Path) -> Study:
    """Read and check the study file at ``path`` (persona CSV files relative to it).

    Raises:
        ConfigurationError: One line naming the file, the key and what is wrong.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the study file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not a TOML file: {exc}") from None
    return study_from_dict(data, path)


def study_from_dict(data: dict[str, Any], source: str | Path = "study") -> Study:
    """Check a study given as a dict (as read from TOML); persona CSV files are relative to ``source``'s folder."""
    secret = _secret_key(data)
    if secret:
        raise ConfigurationError(f"{source}: {secret}: keys do not belong in a study file; set them in the environment")
    try:
        study = Study.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top)"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigurationError(f"{source}: {where}: {message}") from None
    folder = Path(source).parent if isinstance(source, Path) else Path(".")
    for index, arm in enumerate(study.arms):
        _check_personas(arm, f"{source}: arms.{index}", folder)
    return study


def assign_personas(arm: Arm, folder: Path) -> list[list[str | None]]:
    """The persona of each bot of each of ``arm``'s sessions: its spec's text, or the next row of
    its spec's CSV file (relative to ``folder``) filling the template, rows taken in order."""
    rows: dict[PersonaRows, Iterator[dict[str, str]]] = {}
    personas: list[list[str | None]] = []
    for _ in range(arm.sessions):
        session: list[str | None] = []
        for position in range(arm.bots_per_session):
            persona = arm.spec_of(position).persona
            if isinstance(persona, PersonaRows):
                if persona not in rows:
                    with open(folder / persona.csv, newline="") as file:
                        rows[persona] = iter(list(csv.DictReader(file)))
                session.append(persona.template.format(**next(rows[persona])))
            else:
                session.append(persona)
        personas.append(session)
    return personas


def _check_personas(arm: Arm, where: str, folder: Path) -> None:
    """Every persona CSV of ``arm`` can be read, has the template's columns and a row for each of its bots."""
    bots: Counter[PersonaRows] = Counter()
    first_key: dict[PersonaRows, str] = {}
    for position in range(arm.bots_per_session):
        persona = arm.spec_of(position).persona
        if isinstance(persona, PersonaRows):
            bots[persona] += arm.sessions
            first_key.setdefault(persona, "bots" if arm.positions is None else f"positions.{position}")
    for persona, needed in bots.items():
        key = f"{where}.{first_key[persona]}.persona"
        try:
            with open(folder / persona.csv, newline="") as file:
                reader = csv.DictReader(file)
                rows = list(reader)
                columns = set(reader.fieldnames or [])
        except OSError as exc:
            raise ConfigurationError(f"{key}: cannot read {persona.csv}: {exc.strerror}") from None
        missing = sorted({field for _, field, _, _ in string.Formatter().parse(persona.template) if field} - columns)
        if missing:
            raise ConfigurationError(f"{key}: {persona.csv} has no column {', '.join(missing)}")
        if len(rows) < needed:
            raise ConfigurationError(f"{key}: {persona.csv} has {len(rows)} rows for {needed} bots")


def _secret_key(data: Any, path: str = "") -> str | None:
    """The dotted name of the first key that holds a secret, if any."""
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if is_credential_name(str(key)):
                return name
            found = _secret_key(value, name)
            if found:
                return found
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found = _secret_key(item, f"{path}.{index}")
            if found:
                return found
    return None
