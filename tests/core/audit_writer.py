"""A process that appends audit entries in a transaction it holds open until a peer's is open
too: ``test_audit.py`` runs two of them to show that writers of the Merkle log never wait for
each other (PostgreSQL only).

``python audit_writer.py NAME PEER DIRECTORY ENTRIES``: one unit of work queues ``ENTRIES``
audit entries about entity ``NAME`` (``uow.audit``) and commits. Its commit first writes them,
then, just before ``COMMIT``, announces ``DIRECTORY/NAME.open`` (its backend pid, the ids it
wrote, the transaction's start time) and waits for ``DIRECTORY/PEER.open``: both transactions
have then written their entries and neither has committed. After committing it writes
``DIRECTORY/NAME.json`` with the transaction's start, the time it passed the barrier, the
commit time (all by the database's clock) and the ids, and exits 0 (3 if the peer never came).
Settings come from ``RUXUE_*`` variables. The script is run by path: it imports nothing from
the tests.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import AuditEvent
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings
from ruxue_core.uow import UnitOfWork

BARRIER_SECONDS: Final = 60.0


class PeerMissing(Exception):
    """The other writer never opened its transaction."""


def _announce(path: Path, content: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content))
    temporary.rename(path)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + BARRIER_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            raise PeerMissing(str(path))
        time.sleep(0.01)


def append(runtime: Runtime, name: str, peer: str, directory: Path, entries: int) -> None:
    """Append ``entries`` entries in one unit of work that commits only once the peer's
    transaction is open too; record the timings in ``directory``."""
    record: dict[str, Any] = {"name": name}

    def barrier(session: Session) -> None:
        """Before COMMIT (the entries are written): meet the peer."""
        pid, started, now = session.execute(
            sa.text("SELECT pg_backend_pid(), now(), clock_timestamp()")
        ).one()
        ids = session.exec(select(AuditEvent.id).where(col(AuditEvent.entity_id) == name)).all()
        record.update(pid=pid, started=started.isoformat(), barrier=now.isoformat(), ids=ids)
        _announce(directory / f"{name}.open", record)
        _wait_for(directory / f"{peer}.open")

    def unit(uow: UnitOfWork) -> None:
        for n in range(entries):
            uow.audit(AuditEntry(name, "system", "test.overlap", "process", name, {"n": n}))
        event.listen(uow.session, "before_commit", barrier, once=True)
        uow.commit()

    runtime.write_here(unit)
    committed = runtime.read_here(
        lambda uow: uow.session.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    )
    record["committed"] = committed.isoformat()
    _announce(directory / f"{name}.json", record)


def main(name: str, peer: str, directory: str, entries: str) -> int:
    runtime = Runtime.create(Settings())
    try:
        append(runtime, name, peer, Path(directory), int(entries))
    except PeerMissing:
        return 3
    finally:
        runtime.db.dispose_here()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
