"""Keeping a participant's lease while its bot runs (the ledger takes and gives leases)."""

from __future__ import annotations

import logging
import threading

from botex_core.store import ledger

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews a lease in the background until stopped; ``lost`` is set when another owner took it."""

    def __init__(self, botex_db: str, session_id: str, participant_id: str, owner: str, seconds: float) -> None:
        self._arguments = (botex_db, session_id, participant_id, owner, seconds)
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"lease-{participant_id}")

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        ledger.release_lease(*self._arguments[:4])

    def _run(self) -> None:
        interval = self._arguments[4] / 3
        while not self._stop.wait(interval):
            try:
                if not ledger.renew_lease(*self._arguments):
                    logger.error("lost the lease on participant %s", self._arguments[2])
                    self.lost.set()
                    return
            except Exception:  # noqa: BLE001 - a failed renewal is retried at the next interval
                logger.exception("could not renew the lease on participant %s", self._arguments[2])
