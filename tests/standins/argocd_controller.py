"""Argo CD's application controller, as far as `mlgate wait-sync` sees it: it follows the
config repo's branch and, a moment after the branch moves, reports the new head synced and
healthy in the Argo CD API stand-in (argocd_api.py), as an auto-synced Application would.

A thread polls `head()` (any callable giving the branch's current commit: a bare repository on
disk, the loopback git server) every `poll` seconds; `stalled = True` makes it stop applying (a
controller that never syncs). `applied` lists every revision it put, in order.

With `after_read=True` the sync takes as long as the waiter needs to see it under way, whatever
the machine's speed: on a new head the application first reports it OutOfSync, its sync
operation Running and its health Progressing (what Argo CD shows while it applies), and only
`delay` seconds after a client read that state does it report the head synced and healthy. A
CI job that starts late then still has something to wait for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .argocd_api import ArgoCdStandIn, application


class Controller:
    """Whenever the branch moves, the application reports the new revision synced and healthy
    `delay` seconds later (or never, while `stalled`). A context manager: stopped on exit."""

    def __init__(self, argo: ArgoCdStandIn, head: Callable[[], str], *,
                 app: str = "churn-staging", delay: float = 0.3, poll: float = 0.1,
                 after_read: bool = False) -> None:
        self.argo, self.head, self.app = argo, head, app
        self.delay, self.poll, self.after_read = delay, poll, after_read
        self.stalled = False
        self.applied: list[str] = []
        self._stop = threading.Event()
        argo.put(app, application(app, head()))
        self._thread = threading.Thread(target=self._run, name=f"controller-{app}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen = self.head()
        while not self._stop.wait(self.poll):
            now = self.head()
            if now == seen or self.stalled:
                continue
            if self.after_read and not self._under_way(now):
                return
            time.sleep(self.delay)
            self.argo.put(self.app, application(self.app, now))
            self.applied.append(now)
            seen = now

    def _under_way(self, revision: str) -> bool:
        """Report `revision` being applied, then wait until a client read it (False: stopped
        first)."""
        self.argo.put(self.app, application(self.app, revision, sync="OutOfSync",
                                            health="Progressing", phase="Running"))
        reads = self.argo.count_app(self.app)
        while self.argo.count_app(self.app) == reads:
            if self._stop.wait(self.poll):
                return False
        return True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def __enter__(self) -> Controller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
