"""Keeping the leases of a process's running bots (the ledger takes and gives leases).

One renewer per store and lease length renews the leases of all the process's
bots in one statement per round, so that a worker with a thousand bots costs
the store one write every few seconds, not a thousand.
"""

from __future__ import annotations

import logging
import threading
import time

from botex_core.store import ledger

logger = logging.getLogger(__name__)


class LeaseRenewer:
    """Renews the leases it holds every third of their length; sets the ``lost`` event of each
    lease that another owner took."""

    def __init__(self, botex_db: str, seconds: float) -> None:
        self._botex_db = botex_db
        self._seconds = seconds
        self._held: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, owner: str, lost: threading.Event) -> None:
        """Keep ``owner``'s lease from now on; ``lost`` is set when another owner takes it."""
        with self._lock:
            self._held[owner] = lost
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="lease-renewer")
                self._thread.start()

    def drop(self, owner: str) -> None:
        """Stop keeping ``owner``'s lease."""
        with self._lock:
            self._held.pop(owner, None)

    def _renew(self) -> None:
        """Renew every lease held now; mark those another owner took as lost."""
        with self._lock:
            owners = list(self._held)
        if not owners:
            return
        try:
            renewed = ledger.renew_leases(self._botex_db, owners, self._seconds)
        except Exception as exc:  # noqa: BLE001 - a failed round is tried again at the next one
            logger.error("could not renew the leases of %d bots: %s", len(owners), exc)
            return
        with self._lock:
            for owner in set(owners) - renewed:
                lost = self._held.pop(owner, None)
                if lost is not None:
                    logger.error("lost the lease of run %s", owner)
                    lost.set()

    def _run(self) -> None:
        while True:
            time.sleep(self._seconds / 3)
            self._renew()


_renewers: dict[tuple[str, float], LeaseRenewer] = {}
_renewers_lock = threading.Lock()


def renewer_for(botex_db: str, seconds: float) -> LeaseRenewer:
    """This process's renewer of leases of ``seconds`` in ``botex_db``."""
    with _renewers_lock:
        if (botex_db, seconds) not in _renewers:
            _renewers[botex_db, seconds] = LeaseRenewer(botex_db, seconds)
        return _renewers[botex_db, seconds]


class LeaseKeeper:
    """Keeps one bot's lease while the block runs (through the process's renewer) and gives it
    back at the end; ``lost`` is set when another owner took it."""

    def __init__(self, botex_db: str, session_id: str, participant_id: str, owner: str, seconds: float) -> None:
        self._key = (botex_db, session_id, participant_id, owner)
        self._renewer = renewer_for(botex_db, seconds)
        self.lost = threading.Event()

    def __enter__(self) -> LeaseKeeper:
        self._renewer.hold(self._key[3], self.lost)
        return self

    def __exit__(self, *exc: object) -> None:
        self._renewer.drop(self._key[3])
        ledger.release_lease(*self._key)
