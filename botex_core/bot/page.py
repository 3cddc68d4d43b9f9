"""A typed model of an oTree page as a bot sees it."""

from __future__ import annotations

import re
from enum import Enum

from pydantic import BaseModel, Field

from botex_core.otree.links import page_path

_TOO_LONG = re.compile(r"^(?P<field>\w+): .*longer than (?P<limit>\d+) characters")


class Widget(str, Enum):
    """How a question is answered on the page."""

    TEXT = "text"
    TEXTAREA = "textarea"
    INTEGER = "integer"
    FLOAT = "float"
    RADIO = "radio"
    SELECT = "select"
    CHECKBOX = "checkbox"
    BUTTON = "button"


class Choice(BaseModel):
    """One option of a choice question: what the form sends and what the person reads."""

    value: str
    label: str


class Question(BaseModel):
    """One form field of a page."""

    id: str
    widget: Widget
    label: str
    choices: list[Choice] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    required: bool = True

    def choice_value(self, label: str) -> str:
        """The form value of the choice with ``label``."""
        for choice in self.choices:
            if choice.label == label:
                return choice.value
        raise KeyError(label)


class ActionKind(str, Enum):
    """What a participant does with a control of an interactive page."""

    PRESS = "press"  # press a button
    ENTER = "enter"  # type a value into the button's input, then press the button
    CHAT = "chat"  # write a message in the page's chat


class Action(BaseModel):
    """One thing a participant can do on an interactive page while it stays open."""

    id: str
    kind: ActionKind
    label: str
    # For ``enter``: what the input asks for, and its bounds (a number input's min and max).
    input_label: str = ""
    min: float | None = None
    max: float | None = None
    numeric: bool = False


class Page(BaseModel):
    """What a bot reads on one page: text, questions, and how to go on."""

    url: str
    title: str = ""
    text: str = ""
    questions: list[Question] = Field(default_factory=list)
    # oTree's Next button, or any other control that submits the form.
    has_next_button: bool = False
    is_wait_page: bool = False
    errors: list[str] = Field(default_factory=list)
    # An interactive page: it talks to the server while open (``liveSend``), or holds oTree's chat;
    # what the participant can do on it now, and the seconds its timer leaves (read in a browser).
    live: bool = False
    chat: bool = False
    actions: list[Action] = Field(default_factory=list)
    seconds_left: float | None = None
    # How many visible changes the page had seen when it was read (in a browser): a watching bot
    # compares it, not the page; not part of what a page is.
    revision: int = Field(default=0, exclude=True)

    @property
    def app(self) -> str | None:
        """The oTree app of the page, from its URL."""
        path = page_path(self.url)
        return path.app if path else None

    @property
    def name(self) -> str | None:
        """The oTree page class, from its URL."""
        path = page_path(self.url)
        return path.page if path else None

    @property
    def index(self) -> int | None:
        """The participant's page index, from the URL; it grows with every page."""
        path = page_path(self.url)
        return path.index if path else None

    def max_lengths_from_errors(self) -> dict[str, int]:
        """Length limits that oTree states in its errors but not in its HTML."""
        return {
            match.group("field"): int(match.group("limit"))
            for match in map(_TOO_LONG.match, self.errors)
            if match
        }

    def with_max_lengths(self, limits: dict[str, int]) -> Page:
        """This page with ``limits`` applied to its text questions."""
        questions = [
            q.model_copy(update={"max_length": limits[q.id]}) if q.id in limits else q
            for q in self.questions
        ]
        return self.model_copy(update={"questions": questions})

    @property
    def interactive(self) -> bool:
        """A page the participant acts on while it is open, with nothing to answer in a form."""
        return (self.live or self.chat) and not self.questions

    @property
    def has_no_way_on(self) -> bool:
        """Nothing to answer and nothing that submits the page: the participant's last page, or a page
        that something else ends (oTree's admin, a script, another participant)."""
        return not self.is_wait_page and not self.questions and not self.has_next_button
