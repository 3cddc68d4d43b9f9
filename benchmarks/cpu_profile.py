"""Where a worker's CPU goes: py-spy samples its running threads, each sample is put in one part.

A sample belongs to the part of the frame nearest the top of its stack that
comes from a part's own code: a JSON parse inside LiteLLM counts as LiteLLM, a
Redis call from the rate limiter as the rate limiter, one from kombu as
Celery/kombu. Libraries that every part uses (redis, httpx, pydantic, the
standard library) decide nothing by themselves. Only the thread that holds
Python's GIL is sampled: the worker's threads take turns on it, so the shares
are shares of the worker's Python CPU (a thread waiting on a socket or a lock
has let the GIL go).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# In order of precedence within one frame: the first part whose marker is in the frame's file wins.
PARTS = (
    ("rate limiter", ("botex_worker/ratelimit",)),
    ("LLM client (LiteLLM)", ("/litellm/", "/openai/", "/tiktoken", "/tokenizers", "botex_core/llm/")),
    ("store (SQLAlchemy, psycopg)", ("/sqlalchemy/", "/psycopg", "botex_core/store/")),
    ("HTML reading (lxml)", ("/lxml/", "/cssselect/", "botex_core/bot/html_page")),
    ("HTTP to oTree (requests)", ("/requests/", "/urllib3/", "botex_core/bot/http_driver", "botex_core/otree/")),
    ("Celery/kombu", ("/celery/", "/kombu/", "/billiard/", "botex_worker/")),
    ("the bot's own logic", ("botex_core/",)),
)
OTHER = "other"


def part_of(stack: str) -> str:
    """The part one collapsed stack (root first, frames separated by ``;``) belongs to."""
    for frame in reversed(stack.split(";")):
        for part, markers in PARTS:
            if any(marker in frame for marker in markers):
                return part
    return OTHER


def shares(raw_profile: Path) -> dict[str, float]:
    """Each part's share of the samples in a py-spy ``raw`` (collapsed stacks) file, largest first."""
    samples: Counter[str] = Counter()
    for line in raw_profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples[part_of(stack)] += int(count)
    total = sum(samples.values()) or 1
    return {part: count / total for part, count in samples.most_common()}


@contextmanager
def recording(pid: int, raw_profile: Path, rate: int = 97) -> Iterator[None]:
    """Sample ``pid`` with py-spy while the block runs, into ``raw_profile``."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy (it is in the dev extra)")
    process = subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(raw_profile),
         "--rate", str(rate), "--gil", "--nonblocking", "--full-filenames"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=120)
        if not raw_profile.exists():
            raise RuntimeError(f"py-spy wrote no profile: {errors.strip()[-500:]}")


def print_shares(title: str, raw_profile: Path) -> None:
    """Print the parts' shares of a profile as a Markdown table."""
    print(f"\n{title} (py-spy samples of the thread holding the GIL: {raw_profile})")
    print("| part | share of worker CPU |")
    print("| --- | --- |")
    for part, share in shares(raw_profile).items():
        print(f"| {part} | {share:.0%} |")
