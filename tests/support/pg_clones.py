"""PostgreSQL databases for tests, cloned from a migrated template ahead of need and
dropped behind, each on a thread of its own.

A test then waits for neither statement: CREATE DATABASE copies the template (about
0.1 s), and DROP DATABASE removes its files and waits for the disk (0.2 s to 2 s on a
busy machine). Each clone is still used by one test only, as fresh as a new database.
"""

from __future__ import annotations

import queue
import threading
import uuid

from sqlalchemy import Engine, create_engine, text

#: Clones made ahead: enough for the next test, not so many that a short session
#: makes (and drops) databases for nothing.
AHEAD = 2


class Clones:
    """Clones of `template` on the server of `admin_url` (a database to connect to for
    CREATE and DROP), named `prefix` and a random suffix."""

    def __init__(self, admin_url: str, template: str, prefix: str) -> None:
        self._admin: Engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._template = template
        self._prefix = prefix
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=AHEAD)
        self._gone: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._maker = threading.Thread(target=self._make, name="pg-clone-maker", daemon=True)
        self._dropper = threading.Thread(target=self._drop, name="pg-clone-dropper", daemon=True)
        self._started = False
        #: drops that failed, told when the session ends
        self._failed: list[str] = []

    def take(self) -> str:
        """The name of a fresh clone, for one test; give it back with `drop`."""
        if not self._started:
            self._started = True
            self._maker.start()
            self._dropper.start()
        made = self._ready.get(timeout=300)
        if isinstance(made, BaseException):
            raise RuntimeError("could not clone the template database") from made
        return made

    def drop(self, name: str) -> None:
        """Drop a clone taken with `take`, behind the test's back."""
        self._gone.put(name)

    def close(self) -> None:
        """Stop making clones and drop every one left, waiting for the drops."""
        self._stop.set()
        if not self._started:
            self._admin.dispose()
            return
        while self._maker.is_alive():
            self._discard_ready()
            self._maker.join(0.1)
        self._discard_ready()
        self._gone.put(None)
        self._dropper.join()
        self._admin.dispose()
        if self._failed:
            raise RuntimeError(f"could not drop test databases: {', '.join(self._failed)}")

    def _discard_ready(self) -> None:
        while True:
            try:
                made = self._ready.get_nowait()
            except queue.Empty:
                return
            if isinstance(made, str):
                self._gone.put(made)

    def _make(self) -> None:
        while not self._stop.is_set():
            name = f"{self._prefix}{uuid.uuid4().hex[:12]}"
            try:
                with self._admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
            except Exception as exc:  # the test that takes it fails with the reason
                self._ready.put(exc)
                return
            while True:
                try:
                    self._ready.put(name, timeout=0.1)
                    break
                except queue.Full:
                    if self._stop.is_set():
                        self._gone.put(name)
                        return

    def _drop(self) -> None:
        while (name := self._gone.get()) is not None:
            try:
                with self._admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as exc:  # the others are still dropped
                self._failed.append(f"{name} ({str(exc).splitlines()[0]})")
