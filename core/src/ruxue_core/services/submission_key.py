"""Idempotent submission: a client sends a key with ``submitApplication``; a retry with the
same key (after a lost answer, say) gets the first answer again, receipt number and query code
included, instead of ``Duplicate``. The same key with a different form is refused.

Keys are per submitter (a guardian's verified identity, or a staff account) and stored only as
keyed hashes, beside a keyed fingerprint of the form (which holds personal data).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import Application, SubmissionKey
from ruxue_core.errors import InvalidInput
from ruxue_core.plugins.contracts import Principal
from ruxue_core.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Key:
    """A submission's key as stored: whose and which, and the form's fingerprint."""

    index: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class FirstAnswer:
    """What the first submission with a key created."""

    application_id: int
    receipt_no: str
    query_code: str


def of(
    uow: UnitOfWork, actor: Principal, key: str | None, form: Mapping[str, object]
) -> Key | None:
    """The stored form of ``key`` for this submitter and form (``None`` without a key)."""
    if key is None:
        return None
    submitter = actor.verified_id_number or actor.id
    cipher = uow.cipher
    canonical = json.dumps(form, sort_keys=True, ensure_ascii=False, default=str)
    whose = f"{actor.role.value}\x00{submitter}\x00{key}"
    return Key(
        index=cipher.blind_index(whose, purpose="submit.key"),
        fingerprint=cipher.blind_index(canonical, purpose="submit.form"),
    )


def replay(uow: UnitOfWork, key: Key) -> FirstAnswer | None:
    """The first answer for ``key``, or ``None`` if it was not used yet (one statement).

    :raises InvalidInput: the key was used for a different form.
    """
    row = uow.session.execute(
        sa.select(
            col(SubmissionKey.fingerprint),
            col(Application.id),
            col(Application.receipt_no),
            col(Application.query_code_ct),
        )
        .join(Application, col(Application.id) == SubmissionKey.application_id)
        .where(col(SubmissionKey.key_idx) == key.index)
    ).first()
    if row is None:
        return None
    fingerprint, application_id, receipt_no, query_code_ct = row
    if fingerprint != key.fingerprint:
        raise InvalidInput("该幂等键已用于另一份报名，请换一个", field="idempotencyKey")
    query_code = uow.cipher.decrypt(query_code_ct, purpose="query_code")
    return FirstAnswer(application_id, receipt_no, query_code)


def remember(uow: UnitOfWork, key: Key, application_id: int) -> None:
    """Store ``key`` for the application just created (in the same transaction)."""
    uow.session.execute(
        sa.insert(SubmissionKey).values(
            key_idx=key.index,
            fingerprint=key.fingerprint,
            application_id=application_id,
            created_at=uow.now,
        )
    )
