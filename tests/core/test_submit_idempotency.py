"""Idempotent submission: a retry with the same key gets the first answer (receipt number and
query code) and creates nothing; the same key with another form is refused; keys are per
submitter; concurrent retries agree."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, func
from statement_counting import counting

from ruxue_core.domain import Application, AuditEvent, Season, SubmissionKey
from ruxue_core.domain.enums import Status
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import Duplicate, InvalidInput
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import SubmitApplication, submit_application
from ruxue_core.testing.factories import (
    COUNTER,
    GUARDIAN,
    OTHER_COUNTER,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork

KEY = "3f0c9a4e-8d1b-4c2a-9e57-0b6d2c1f7a88"


def keyed(season: str, key: str = KEY) -> SubmitApplication:
    return replace(submit_command(season, child_id=child_id_number()), idempotency_key=key)


async def count(runtime: Runtime, model: type[Application | AuditEvent | SubmissionKey]) -> int:
    def read(uow: UnitOfWork) -> int:
        return int(uow.session.scalar(sa.select(func.count()).select_from(model)) or 0)

    return await runtime.read(read)


async def test_a_retry_gets_the_first_answer(runtime: Runtime, season: str) -> None:
    command = keyed(season)
    first = await submit_application(runtime, command, GUARDIAN)
    audited = await count(runtime, AuditEvent)
    with counting(runtime) as counted:
        again = await submit_application(runtime, command, GUARDIAN)
    assert again == first
    assert (again.status, again.version) == (Status.SUBMITTED, 1)
    assert len(counted.statements) <= 2  # the key's lookup (and nothing written)
    assert await count(runtime, Application) == 1
    assert await count(runtime, SubmissionKey) == 1
    assert await count(runtime, AuditEvent) == audited
    # without a key the same form is a duplicate, as before
    with pytest.raises(Duplicate):
        await submit_application(runtime, replace(command, idempotency_key=None), GUARDIAN)


async def test_the_answer_comes_back_after_the_window_closed(runtime: Runtime, season: str) -> None:
    command = keyed(season)
    first = await submit_application(runtime, command, GUARDIAN)

    def close(uow: UnitOfWork) -> None:
        uow.session.execute(sa.update(Season).values(closes_at=utcnow() - timedelta(minutes=1)))
        uow.commit()

    await runtime.write(close)
    assert await submit_application(runtime, command, GUARDIAN) == first


async def test_the_same_key_with_another_form_is_refused(runtime: Runtime, season: str) -> None:
    command = keyed(season)
    await submit_application(runtime, command, GUARDIAN)
    for changed in (
        replace(command, address="燕矶镇新街12号"),
        replace(command, child=replace(command.child, id_number=child_id_number())),
    ):
        with pytest.raises(InvalidInput) as refused:
            await submit_application(runtime, changed, GUARDIAN)
        assert refused.value.field == "idempotencyKey"
    assert await count(runtime, Application) == 1


async def test_keys_belong_to_their_submitter(runtime: Runtime, season: str) -> None:
    mine = await submit_application(runtime, keyed(season), GUARDIAN)
    at_counter = await submit_application(runtime, keyed(season), COUNTER)
    assert at_counter.receipt_no != mine.receipt_no
    other_township = replace(keyed(season), township_code="420704102", address="杨叶镇杨叶大道8号")
    elsewhere = await submit_application(runtime, other_township, OTHER_COUNTER)
    assert elsewhere.receipt_no not in (mine.receipt_no, at_counter.receipt_no)
    assert await count(runtime, Application) == 3


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space!", "引号引号引号引号"])
async def test_a_malformed_key_is_refused(runtime: Runtime, season: str, key: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await submit_application(runtime, keyed(season, key), GUARDIAN)
    assert refused.value.field == "idempotencyKey"
    assert await count(runtime, Application) == 0


async def test_concurrent_retries_agree(runtime: Runtime, season: str) -> None:
    command = keyed(season)
    answers = await asyncio.gather(
        *(submit_application(runtime, command, GUARDIAN) for _ in range(4))
    )
    assert len({(a.application_id, a.receipt_no, a.query_code) for a in answers}) == 1
    assert await count(runtime, Application) == 1

    def keys(uow: UnitOfWork) -> list[int]:
        return list(uow.session.scalars(sa.select(col(SubmissionKey.application_id))))

    assert await runtime.read(keys) == [answers[0].application_id]
