"""Loaded by the tests' oTree servers (through PYTHONPATH): a report when oTree hangs.

oTree's server now and then stops answering (see ``tests/support/otree_service.py``).
A thread in the server checks every few seconds whether its event loop still
runs callbacks and whether oTree's global request lock (``lock2``) has been held
for long. When either goes wrong it writes every asyncio task's stack and every
thread's stack to the server's log, once a minute, so that a hang in CI leaves
the place where oTree waits. Other Python processes that inherit PYTHONPATH
(the oTree command's helpers, the tests' own) are left alone.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import io
import os
import signal
import sys
import threading
import time

CHECK_SECONDS = 3.0
LOOP_ANSWER_SECONDS = 10.0
LOCK_HELD_SECONDS = 20.0
REPORT_PAUSE_SECONDS = 60.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    running = [obj for obj in gc.get_objects() if isinstance(obj, asyncio.AbstractEventLoop) and obj.is_running()]
    return running[0] if running else None


def _report(loop: asyncio.AbstractEventLoop, answers: bool, lock: asyncio.Lock, held_for: float) -> None:
    out = io.StringIO()
    out.write(f"\n##### oTree hang report: event loop answers={answers}, lock2 held for {held_for:.0f} s, "
              f"{len(getattr(lock, '_waiters', None) or [])} waiting\n")
    try:
        for task in list(asyncio.all_tasks(loop)):
            out.write(f"--- {task!r}\n")
            task.print_stack(limit=40, file=out)
    except RuntimeError as exc:  # the set of tasks changed while it was read
        out.write(f"tasks could not be listed: {exc}\n")
    sys.stderr.write(out.getvalue())
    sys.stderr.flush()
    faulthandler.dump_traceback(all_threads=True)


def _watch() -> None:
    loop = None
    lock_held_since = None
    while True:
        time.sleep(CHECK_SECONDS)
        middleware = sys.modules.get("otree.middleware")
        if middleware is None:
            continue
        loop = loop or _running_loop()
        if loop is None:
            continue
        answered = threading.Event()
        try:
            loop.call_soon_threadsafe(answered.set)
        except RuntimeError:  # the loop was closed: the server is stopping
            return
        answers = answered.wait(LOOP_ANSWER_SECONDS)
        lock = middleware.lock2
        lock_held_since = (lock_held_since or time.monotonic()) if lock.locked() else None
        held_for = time.monotonic() - lock_held_since if lock_held_since else 0.0
        if not answers or held_for > LOCK_HELD_SECONDS:
            _report(loop, answers, lock, held_for)
            time.sleep(REPORT_PAUSE_SECONDS)


if os.path.basename(sys.argv[0] if sys.argv else "") == "otree":
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    threading.Thread(target=_watch, daemon=True, name="otree-hang-report").start()
