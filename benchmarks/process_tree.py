"""What a group of processes costs: CPU seconds and peak memory, read from /proc.

Memory is the proportional set size (PSS: shared pages split among the
processes that share them), so that a browser's many processes are not
counted several times over.
"""

from __future__ import annotations

import os
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


def _stat(pid: int) -> tuple[int, int, float] | None:
    """The session id, start time and CPU seconds (user + system) of one process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[3]), int(fields[19]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class SessionSampler:
    """Samples every process of the given sessions (``setsid``), and the given pids, in the background.

    Keeps the peak of their summed PSS and the CPU seconds of each process as
    last seen; a process that ends between two samples loses at most one
    interval of CPU time.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.sessions: set[int] = set()
        self.pids: set[int] = set()
        self.peak_mb = 0.0
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
        total = 0.0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            stat = _stat(pid)
            if stat is None or (stat[0] not in self.sessions and pid not in self.pids):
                continue
            session, started, cpu = stat
            self._cpu[pid, started] = cpu
            total += pss_mb(pid)
        self.peak_mb = max(self.peak_mb, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)
