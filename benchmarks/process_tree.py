"""What a group of processes costs: CPU seconds and peak memory, read from /proc.

Memory is the proportional set size (PSS: shared pages split among the
processes that share them), so that a browser's many processes are not
counted several times over.
"""

from __future__ import annotations

import os
import signal
import threading

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def pss_mb(pid: int) -> float:
    """PSS of one process in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _stat(pid: int) -> tuple[str, int, int, float] | None:
    """The command name, session id, start time and CPU seconds (user + system) of one process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            name, rest = stat.read().split(" (", 1)[1].rsplit(")", 1)
    except (OSError, ValueError):
        return None
    fields = rest.split()
    return name, int(fields[3]), int(fields[19]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class SessionSampler:
    """Samples every process of the given sessions (``setsid``), and the given pids, in the background.

    Keeps the peak of their summed PSS (and its split by command name) and the
    CPU seconds of each process as last seen; a process that ends between two
    samples loses at most one interval of CPU time.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.sessions: set[int] = set()
        self.pids: set[int] = set()
        self.peak_mb = 0.0
        self.peak_by_command: dict[str, float] = {}
        self._cpu: dict[tuple[int, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds used by the sampled processes so far."""
        return sum(self._cpu.values())

    def __enter__(self) -> SessionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        """Take one sample now."""
        by_command: dict[str, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            stat = _stat(pid)
            if stat is None or (stat[1] not in self.sessions and pid not in self.pids):
                continue
            name, _, started, cpu = stat
            self._cpu[pid, started] = cpu
            by_command[name] = by_command.get(name, 0.0) + pss_mb(pid)
        total = sum(by_command.values())
        if total > self.peak_mb:
            self.peak_mb, self.peak_by_command = total, by_command

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def kill_sessions(sessions: set[int]) -> None:
    """Kill every process of the given sessions (``setsid``), the caller's own session excepted."""
    own = os.getsid(0)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] in sessions and stat[1] != own:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except ProcessLookupError:
                    pass
