"""The bot's side of the conversation with its LLM.

Each request is built from the prompts; each reply is parsed leniently, then
validated against the page's model. Invalid JSON, schema errors and cut-off
replies are answered with the matching retry prompt a bounded number of times.
A bot that says it is confused gets the ``confused`` prompt a bounded number
of times and then goes on with its last valid reply. When the tries run out
and the only fault left is a number outside its range (grammar-constrained
local models ignore bounds), the number is set to the nearest bound and the
reason says so, so that the bot does not strand its partners.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any, TypeVar

from pydantic import ValidationError

from botex_core.bot.page import Page
from botex_core.bot.schemas import (
    REASON_MAX,
    EndReply,
    LiveOption,
    Reply,
    StartReply,
    SummaryReply,
    live_reply_model,
    page_reply_model,
    questions_for_prompt,
    reply_schema,
)
from botex_core.llm.client import LLMClient, LLMFailure

logger = logging.getLogger(__name__)

ReplyT = TypeVar("ReplyT", bound=Reply)

MAX_REPLY_TRIES = 5
MAX_CONFUSED_TRIES = 1


class NoValidReply(LLMFailure):
    """The LLM answered, but never in the form asked for."""


class Dialogue:
    """Asks the LLM about pages and keeps the conversation and the running summary."""

    def __init__(
        self,
        client: LLMClient,
        prompts: dict[str, str],
        full_history: bool,
        messages: list[dict[str, Any]] | None = None,
        summary: str | None = None,
        persona: str | None = None,
    ) -> None:
        self._client = client
        self._prompts = prompts
        self._full_history = full_history
        self.messages: list[dict[str, Any]] = messages or []
        self.summary = summary
        self.phase = "start"
        self.confused_replies = 0
        system = prompts["system_full_hist" if full_history else "system"]
        if persona:
            system += "\n\n" + _fill(prompts["persona"], persona=persona)
        self._system = {"role": "system", "content": system}
        if not self.messages:
            self.messages.append(self._system)

    def start(self) -> StartReply:
        """Explain the task; the bot says whether it understood."""
        self.phase = "start"
        return self._ask(self._prompts["start"], StartReply)

    def read_page(self, page: Page, errors: list[str] | None = None) -> Reply:
        """Ask about ``page``: a summary, and answers when it has questions.

        With ``errors`` the page came back rejected and the LLM is told why.
        """
        self.phase = f"page:{page.index}:{page.name or page.url}"
        first = self.summary is None
        with_questions = bool(page.questions)
        if self._full_history and not first:
            key = "analyze_page_q_full_hist" if with_questions else "analyze_page_no_q_full_hist"
        else:
            stem = "analyze_first_page" if first else "analyze_page"
            key = f"{stem}_{'q' if with_questions else 'no_q'}"
        prompt = _fill(
            self._prompts[key],
            body=page.text,
            summary=self.summary or "",
            nr_q=str(len(page.questions)),
            questions=json.dumps(questions_for_prompt(page.questions), ensure_ascii=False),
        )
        if errors:
            prompt = _fill(self._prompts["page_not_changed"], errors="\n".join(errors)) + "\n\n" + prompt
        model = page_reply_model(page.questions) if with_questions else SummaryReply
        reply = self._ask(prompt, model)
        self.summary = reply.summary  # type: ignore[attr-defined]
        return reply

    def read_live_page(self, page: Page, options: tuple[LiveOption, ...], news: str, done: list[str]) -> Reply:
        """Ask what to do now on the interactive ``page``: one of ``options``, with a reason.

        ``news`` is what changed on the page since the bot's last look; ``done`` its actions so far.
        """
        self.phase = f"live:{page.index}:{page.name or page.url}"
        time_left = f"Time left on this page: {page.seconds_left:.0f} seconds.\n\n" if page.seconds_left is not None else ""
        prompt = _fill(
            self._prompts["live_page"],
            summary=self.summary or "(this is the first page)",
            body=page.text,
            news=f"Since your last look: {news}\n\n" if news else "",
            time_left=time_left,
            done="; ".join(done) or "none",
            options="\n".join(f"- {option.text}" + _asks_for(option) for option in options),
        )
        reply = self._ask(prompt, live_reply_model(options))
        self.summary = reply.summary  # type: ignore[attr-defined]
        return reply

    def end(self) -> EndReply:
        """Tell the bot the study is over and ask for its remarks."""
        self.phase = "end"
        key = "end_full_hist" if self._full_history else "end"
        return self._ask(_fill(self._prompts[key], summary=self.summary or ""), EndReply)

    def _ask(self, prompt: str, model: type[ReplyT]) -> ReplyT:
        user = {"role": "user", "content": prompt}
        self.messages.append(user)
        context = self.messages if self._full_history else [self._system, user]
        schema = reply_schema(model)
        last_valid: ReplyT | None = None
        problem = ""
        confused_tries = 0
        for _ in range(MAX_REPLY_TRIES):
            exchange = self._client.complete(_as_messages(context), schema, model.__name__)
            content = exchange.response or ""
            follow_up, reply, problem = self._judge(content, exchange.finish_reason, model)
            if reply is None and (exchange.finish_reason == "length" or context is not self.messages):
                self._ask_again(context, prompt, content, follow_up)
                continue
            self._append(context, {"role": "assistant", "content": content})
            if reply is not None:
                last_valid = reply
                if not _is_confused(reply) or confused_tries >= MAX_CONFUSED_TRIES:
                    break
                confused_tries += 1
            self._append(context, {"role": "user", "content": follow_up})
        if last_valid is None:
            last_valid = _clamped_into_range(content, model)
        if last_valid is None:
            raise NoValidReply(f"no valid reply after {MAX_REPLY_TRIES} tries ({self.phase}): {problem}")
        if _is_confused(last_valid):
            self.confused_replies += 1
            logger.warning("the bot stays confused (%s); going on with its last valid reply", self.phase)
        return last_valid

    def _ask_again(self, context: list[dict[str, Any]], prompt: str, failed: str, follow_up: str) -> None:
        """Ask ``prompt`` again after the note ``follow_up``, without the ``failed`` reply.

        A cut-off reply sent back would fill the context that the retry needs, and
        small models copy a faulty reply they are shown. The conversation keeps
        both; with the full history only a cut-off reply is left out.
        """
        retry = {"role": "user", "content": f"{follow_up.strip()}\n\n{prompt}"}
        if context is self.messages:
            self.messages[-1] = retry
        else:
            self.messages += [{"role": "assistant", "content": failed}, {"role": "user", "content": follow_up}]
            context[-1] = retry

    def _append(self, context: list[dict[str, Any]], message: dict[str, Any]) -> None:
        self.messages.append(message)
        if context is not self.messages:
            context.append(message)

    def _judge(self, content: str, finish_reason: str | None, model: type[ReplyT]) -> tuple[str, ReplyT | None, str]:
        """The follow-up prompt, the valid reply (or None), and what was wrong."""
        if finish_reason == "length":
            return self._prompts["resp_too_long"], None, "the reply was cut off"
        try:
            reply = model.model_validate(json.loads(content, strict=False))
        except ValueError as exc:
            problem = _describe(exc)
            return _fill(self._prompts["json_error"], error=problem), None, problem
        return self._prompts["confused"], reply, ""


_BOUND_ERRORS = {"less_than_equal": "le", "greater_than_equal": "ge", "less_than": "lt", "greater_than": "gt"}


def _clamped_into_range(content: str, model: type[ReplyT]) -> ReplyT | None:
    """The reply with out-of-range numbers set to their bounds, if that is all that is wrong."""
    try:
        data = json.loads(content, strict=False)
        model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
    except ValueError:
        return None
    else:
        return None
    if not errors or any(error["type"] not in _BOUND_ERRORS for error in errors):
        return None
    repaired = copy.deepcopy(data)
    for error in errors:
        *parents, leaf = error["loc"]
        holder = repaired
        for key in parents:
            holder = holder[key]
        bound = error["ctx"][_BOUND_ERRORS[error["type"]]]
        if isinstance(holder, dict) and "reason" in holder and leaf == "answer":
            note = f" [botex set the answer {holder[leaf]!r} to {bound}, the nearest allowed value]"
            # The note must fit into the reason's length cap, however long the reason was.
            holder["reason"] = str(holder["reason"])[: max(0, REASON_MAX - len(note))] + note
        holder[leaf] = bound
    try:
        return model.model_validate(repaired)
    except ValidationError:
        return None


def _is_confused(reply: Reply) -> bool:
    return bool(getattr(reply, "confused", False)) or getattr(reply, "understood", True) is False


def _as_messages(context: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in context]


def _describe(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in error['loc']) or 'reply'}: {error['msg']}"
            for error in exc.errors()[:8]
        ]
        return "; ".join(parts)
    return f"not valid JSON ({exc})"


def _asks_for(option: LiveOption) -> str:
    """What an option asks for besides, in words."""
    if option.value == "text":
        return " (give the message as 'value')"
    if option.value is None:
        return ""
    kind = "a whole number" if option.value == "integer" else "a number"
    bounds = " ".join(part for part in (f"from {option.low:g}" if option.low is not None else "",
                                        f"to {option.high:g}" if option.high is not None else "") if part)
    return f" (give {kind}{' ' + bounds if bounds else ''} as 'value')"


def _fill(template: str, **values: str) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template
