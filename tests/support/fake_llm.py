"""An OpenAI-compatible chat completion server that answers from the JSON schema it is sent.

It stands in for the paid LLM APIs, which cannot be reached from the tests.
Faults are queued over HTTP (``POST /_faults``), so that bots in other
processes meet them too:

- ``429`` and ``500``: that status with an OpenAI-style error body;
- ``timeout``: the reply comes after ``seconds`` (longer than the client waits);
- ``malformed``: a reply that is not JSON;
- ``too_long``: a cut-off reply with ``finish_reason`` ``length``;
- ``out_of_range``: numbers below their minimum, with reasons as long as allowed;
- ``long_text``: texts of 40 characters (within the schema, beyond oTree's 30);
- ``confused``: ``confused`` true and ``understood`` false;
- ``auth``: 401, which no retry can fix;
- ``unknown_model``: 404 ``model_not_found``, which no retry can fix either.

A fault with ``"pages_only": true`` waits for a request whose schema has answers.
Requests with ``tools`` (function calling) get the reply as the first tool's call.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

TEXT = "Stand-in reply."


def instance_from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None, name: str = "",
                         fault: str | None = None, rng: random.Random | None = None) -> Any:
    """A value that satisfies ``schema``, or breaks it as ``fault`` says; bounded numbers are the middle
    of their range, or drawn from ``rng`` when given."""
    root = root or schema
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return instance_from_schema(target, root, name, fault, rng)
    if "anyOf" in schema:
        return instance_from_schema(schema["anyOf"][0], root, name, fault, rng)
    if "enum" in schema:
        return schema["enum"][len(schema["enum"]) // 2]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        return {
            key: instance_from_schema(sub, root, key, fault, rng)
            for key, sub in schema.get("properties", {}).items()
        }
    if kind == "boolean":
        return name == "understood"
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if fault == "out_of_range" and low is not None:
            return int(low) - 10
        if low is not None and high is not None and rng is not None:
            return rng.randint(int(low), int(high)) if kind == "integer" else round(rng.uniform(low, high), 2)
        if low is not None and high is not None:
            middle = (low + high) / 2
            return int(middle) if kind == "integer" else round(middle, 2)
        return int(low) if low is not None else 7
    if kind == "array":
        return [instance_from_schema(schema.get("items", {}), root, name, fault, rng)]
    if fault == "out_of_range" and name == "reason" and "maxLength" in schema:
        return "r" * schema["maxLength"]
    text = "x" * 40 if fault == "long_text" and name == "answer" else TEXT
    return text[: schema.get("maxLength", len(text))]


WAIT_OPTION = "wait and watch the page"
GO_ON_PREFIX = "go on"
NOTHING_DONE = "Your actions on this page so far: none"


def live_action(schema: dict[str, Any], prompt: str, policy: str, rng: random.Random) -> dict[str, Any]:
    """The ``action`` a stand-in participant chooses on an interactive page, from the choices in the
    reply's schema: with ``act``, it goes on once it has done something on the page, else does one of
    the page's actions at random (waiting only when there is none); with ``wait``, it always waits; with
    ``invalid``, it types a value outside the input's bounds where it can."""
    choices = [_resolved(branch, schema) for branch in schema["properties"]["action"].get("anyOf", [])]
    choices = choices or [_resolved(schema["properties"]["action"], schema)]
    named = {choice["properties"]["do"]["const"]: choice for choice in choices}
    go_on = [name for name in named if name.startswith(GO_ON_PREFIX)]
    acts = [name for name in named if name != WAIT_OPTION and name not in go_on]
    if policy == "wait" or not (acts or go_on):
        chosen = WAIT_OPTION
    elif go_on and (NOTHING_DONE not in prompt or not acts):
        chosen = go_on[0]
    else:
        chosen = rng.choice(acts)
    value_schema = named[chosen]["properties"].get("value")
    action: dict[str, Any] = {"do": chosen}
    if value_schema is not None:
        if policy == "invalid" and "maximum" in value_schema:
            action["value"] = value_schema["maximum"] + 50
        elif "minimum" in value_schema and "maximum" in value_schema:
            action["value"] = rng.randint(int(value_schema["minimum"]), int(value_schema["maximum"]))
        else:
            action["value"] = instance_from_schema(value_schema, schema, "value", rng=rng)
    return action


def _resolved(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in node:
        return node
    target = root
    for part in node["$ref"].lstrip("#/").split("/"):
        target = target[part]
    return target


class _RoomyHTTPServer(ThreadingHTTPServer):
    """A threading server whose listen queue holds a fleet's worth of connections
    (the default of 5 drops connections when hundreds of bots ask at once)."""

    request_queue_size = 1024


class FakeLLM:
    """The server: start it, point LiteLLM at ``api_base``, queue faults, read what it saw."""

    def __init__(self, latency: float = 0.0, json_object_only: bool = False, host: str = "127.0.0.1", port: int = 0,
                 random_numbers: bool = False, live_policy: str = "act", confused_by: str | None = None) -> None:
        self.latency = latency
        self.json_object_only = json_object_only
        # Bounded numbers drawn at random (each answer its own) instead of the middle of their range.
        self.rng = random.Random() if random_numbers else None
        # How it plays interactive pages (see :func:`live_action`), with choices of its own.
        self.live_policy = live_policy
        # A page whose text holds this confuses it: it says so on every try.
        self.confused_by = confused_by
        self.live_rng = random.Random(7)
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.headers: list[dict[str, str]] = []
        # The tokens each answered request used, as its reply says, in the order the replies went out.
        self.used_tokens: list[int] = []
        self.arrivals: list[float] = []
        self._faults: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._server = _RoomyHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def inject(self, kind: str, times: int = 1, **options: Any) -> None:
        with self._lock:
            self._faults.extend({"kind": kind, **options} for _ in range(times))

    def clear_faults(self) -> None:
        """Drop the faults not yet served."""
        with self._lock:
            self._faults.clear()

    def _next_fault(self, has_answers: bool) -> dict[str, Any] | None:
        with self._lock:
            for fault in list(self._faults):
                if not fault.get("pages_only") or has_answers:
                    self._faults.remove(fault)
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if self.path == "/_faults":
                    fake.inject(**body)
                    return self._send(200, {"queued": body})
                if not self.path.endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                with fake._lock:
                    fake.requests.append(body)
                    fake.authorizations.append(self.headers.get("authorization"))
                    fake.headers.append(dict(self.headers.items()))
                    fake.arrivals.append(time.time())
                fake_reply(fake, self, body)

            def do_GET(self) -> None:
                if self.path == "/_requests":
                    with fake._lock:
                        return self._send(200, {"count": len(fake.requests)})
                self._send(404, {})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def prompt_tokens(body: dict[str, Any]) -> int:
    """The request's prompt tokens, about 4 characters each; like real providers,
    the schema sent with the messages counts too."""
    text = " ".join(str(m.get("content") or "") for m in body.get("messages", []))
    response_format = body.get("response_format") or {}
    text += json.dumps(body.get("tools") or response_format.get("json_schema") or response_format.get("schema") or "")
    return len(text) // 4 + 1


FAULT_STATUS = {"429": 429, "500": 500, "auth": 401, "unknown_model": 404}


def fake_reply(fake: FakeLLM, handler: Any, body: dict[str, Any]) -> None:
    """Answer one chat completion request (or fail it as the next fault says)."""
    response_format = body.get("response_format") or {}
    tools = body.get("tools") or []
    if tools:
        schema = tools[0]["function"]["parameters"]
    elif response_format.get("type") == "json_schema":
        if fake.json_object_only:
            return handler._send(400, {"error": {"message": "response_format type json_schema is not supported", "type": "invalid_request_error"}})
        schema = response_format["json_schema"]["schema"]
    else:
        schema = response_format.get("schema") or {"type": "object", "properties": {}}
    has_answers = "answers" in schema.get("properties", {})
    fault = fake._next_fault(has_answers) or {}
    kind = fault.get("kind")
    if fake.latency:
        time.sleep(fake.latency)
    if kind in FAULT_STATUS:
        status = FAULT_STATUS[kind]
        return handler._send(status, {"error": {"message": f"stand-in fault {kind}", "type": "fault", "code": status}})
    if kind == "timeout":
        time.sleep(float(fault.get("seconds", 30)))
    with fake._lock:
        reply = instance_from_schema(schema, fault=kind, rng=fake.rng)
        if "action" in schema.get("properties", {}):
            prompt = body["messages"][-1].get("content") or ""
            reply["action"] = live_action(schema, prompt, fake.live_policy, fake.live_rng)
    confusing = fake.confused_by is not None and any(fake.confused_by in (message.get("content") or "")
                                                     for message in body["messages"])
    if kind == "confused" or confusing:
        reply.update({k: v for k, v in (("confused", True), ("understood", False)) if k in reply})
    content = json.dumps(reply)
    finish_reason = "stop"
    if kind == "malformed":
        content = '{"summary": "this is not JSON'
    elif kind == "too_long":
        content, finish_reason = content[: len(content) // 2], "length"
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tools:
        call = {"id": f"call-{len(fake.requests)}", "type": "function",
                "function": {"name": tools[0]["function"]["name"], "arguments": content}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish_reason = "tool_calls" if finish_reason == "stop" else finish_reason
    prompt = prompt_tokens(body)
    with fake._lock:
        fake.used_tokens.append(prompt + len(content) // 4 + 1)
    handler._send(200, {
        "id": f"chatcmpl-{len(fake.requests)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "stand-in"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": len(content) // 4 + 1,
            "total_tokens": prompt + len(content) // 4 + 1,
        },
    })


def queue_fault(api_base: str, kind: str, times: int = 1, **options: Any) -> None:
    """Queue a fault on a stand-in server running elsewhere."""
    root = api_base.rsplit("/v1", 1)[0]
    requests.post(f"{root}/_faults", json={"kind": kind, "times": times, **options}, timeout=5).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the stand-in LLM server.")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--json-object-only", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--live-policy", choices=("act", "wait", "invalid"), default="act")
    arguments = parser.parse_args()
    server = FakeLLM(arguments.latency, arguments.json_object_only, arguments.host, arguments.port,
                     live_policy=arguments.live_policy).start()
    print(server.api_base, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
