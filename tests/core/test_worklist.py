"""Work lists: the SQL scope agrees with ``can_see`` for every kind of caller; filters, keyset
pages and the batch reads of a page's evidence, reviews and materials stay within scope."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

import pytest
import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import Application, Evidence, Review
from ruxue_core.domain.enums import Channel, Outcome, ReviewDecision, Status
from ruxue_core.errors import Forbidden, InvalidInput
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.permissions import can_see, scope_clause
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.worklist import (
    ApplicationFilter,
    PageRequest,
    evidence_for,
    list_applications,
    my_applications,
    reviews_for,
)
from ruxue_core.testing.factories import (
    ADMIN,
    AUDITOR,
    BUREAU,
    COUNTER,
    GUARDIAN,
    OTHER_COUNTER,
    OTHER_GUARDIAN,
    OTHER_GUARDIAN_ID,
    OTHER_SCHOOL_REVIEWER,
    SCHOOL_REVIEWER,
    UNVERIFIED_GUARDIAN,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork

PRINCIPALS: Final = (
    GUARDIAN,
    OTHER_GUARDIAN,
    UNVERIFIED_GUARDIAN,
    COUNTER,
    OTHER_COUNTER,
    replace(COUNTER, id="counter-x", region_code=None),
    SCHOOL_REVIEWER,
    OTHER_SCHOOL_REVIEWER,
    replace(SCHOOL_REVIEWER, id="reviewer-x", school_code=None),
    replace(SCHOOL_REVIEWER, id="reviewer-y", school_code="NO-SUCH"),
    BUREAU,
    ADMIN,
    AUDITOR,
    Principal.system(),
)


async def _seed(runtime: Runtime, season: str) -> list[int]:
    """Six applications: two families, three townships, counter and online, one without a
    school, one in school review with a review and evidence."""
    ids: list[int] = []
    commands = [
        (submit_command(season), GUARDIAN),
        (submit_command(season), GUARDIAN),
        (submit_command(season, township_code="420704102", address="杨叶镇杨叶大道8号"), GUARDIAN),
        (
            submit_command(
                season,
                guardian_id=OTHER_GUARDIAN_ID,
                guardian_name=OTHER_GUARDIAN.name,
                township_code="420704103",
                address="沙窝乡沙窝大道1号",
            ),
            OTHER_GUARDIAN,
        ),
        (submit_command(season, guardian_id=OTHER_GUARDIAN_ID, guardian_name="钱四"), COUNTER),
        (submit_command(season), GUARDIAN),
    ]
    for command, principal in commands:
        command = replace(command, child=replace(command.child, id_number=child_id_number()))
        ids.append((await submit_application(runtime, command, principal)).application_id)

    def shape(uow: UnitOfWork) -> None:
        uow.session.execute(
            sa.update(Application).where(col(Application.id) == ids[5]).values(school_id=None)
        )
        case = load_case(uow, ids[0])
        assert case is not None
        for event in (Event.START_VERIFICATION, Event.PASS_VERIFICATION):
            apply_event(uow, case, event, Principal.system())
        for application_id in (ids[0], ids[3]):
            uow.session.add(
                Evidence(
                    application_id=application_id,
                    source="hukou",
                    subject="guardian",
                    plugin="test",
                    outcome=Outcome.MATCH,
                    facts_ct=uow.cipher.encrypt_json({}, purpose="evidence.facts"),
                )
            )
            uow.session.add(
                Review(
                    application_id=application_id,
                    step=Status.SCHOOL_REVIEW,
                    decision=ReviewDecision.APPROVE,
                    reviewer="reviewer-1",
                )
            )
        uow.commit()

    await runtime.write(shape)
    return ids


async def test_the_sql_scope_agrees_with_can_see(runtime: Runtime, season: str) -> None:
    ids = await _seed(runtime, season)

    def compare(uow: UnitOfWork) -> None:
        for principal in PRINCIPALS:
            listed = set(
                uow.session.scalars(
                    sa.select(col(Application.id)).where(scope_clause(principal, uow.cipher))
                )
            )
            seen = set()
            for application_id in ids:
                case = load_case(uow, application_id)
                assert case is not None
                if can_see(principal, case, uow.cipher):
                    seen.add(application_id)
            assert listed == seen, principal

    await runtime.read(compare)


async def test_each_caller_lists_exactly_their_scope(runtime: Runtime, season: str) -> None:
    ids = await _seed(runtime, season)
    everything = PageRequest(first=100)
    nothing = ApplicationFilter()

    async def listed(principal: Principal) -> list[int]:
        page = await list_applications(runtime, nothing, everything, principal)
        return [view.id for view in page.items]

    assert await listed(BUREAU) == ids
    assert await listed(COUNTER) == [ids[0], ids[1], ids[4], ids[5]]
    assert await listed(OTHER_COUNTER) == [ids[2]]
    assert await listed(SCHOOL_REVIEWER) == [ids[0], ids[1], ids[4]]
    mine = await my_applications(runtime, everything, GUARDIAN)
    assert [view.id for view in mine.items] == [ids[0], ids[1], ids[2], ids[5]]
    theirs = await my_applications(runtime, everything, OTHER_GUARDIAN)
    assert [view.id for view in theirs.items] == [ids[3], ids[4]]
    assert not any(view.details_loaded for view in mine.items)  # read per page, on demand
    with pytest.raises(Forbidden):
        await list_applications(runtime, nothing, everything, GUARDIAN)
    with pytest.raises(Forbidden):
        await list_applications(runtime, nothing, everything, None)
    with pytest.raises(Forbidden):
        await my_applications(runtime, everything, COUNTER)


async def test_filters(runtime: Runtime, season: str) -> None:
    ids = await _seed(runtime, season)
    page = PageRequest(first=100)

    async def listed(**criteria: object) -> list[int]:
        filters = ApplicationFilter(**criteria)  # type: ignore[arg-type]
        return [v.id for v in (await list_applications(runtime, filters, page, BUREAU)).items]

    assert await listed(statuses=(Status.SCHOOL_REVIEW,)) == [ids[0]]
    assert await listed(statuses=(Status.SUBMITTED, Status.SCHOOL_REVIEW)) == ids
    assert await listed(township_code="420704103") == [ids[3]]
    assert await listed(school_code="LK-YJ-01") == [ids[0], ids[1], ids[4]]
    assert await listed(school_code="NO-SUCH") == []
    assert await listed(channel=Channel.COUNTER) == [ids[4]]
    assert await listed(season_code=season) == ids
    assert await listed(season_code="1999-primary") == []
    receipts = {
        v.id: v.receipt_no
        for v in (await list_applications(runtime, ApplicationFilter(), page, BUREAU)).items
    }
    assert await listed(receipt_no_prefix=receipts[ids[3]]) == [ids[3]]
    common = receipts[ids[0]][:6]
    assert await listed(receipt_no_prefix=common) == ids
    with pytest.raises(InvalidInput) as bad:
        await listed(receipt_no_prefix="%")
    assert bad.value.field == "filter.receiptNo"
    with pytest.raises(InvalidInput):
        await listed(township_code="' OR 1=1 --")


async def test_keyset_pages_are_stable_and_complete(runtime: Runtime, season: str) -> None:
    ids = await _seed(runtime, season)
    seen: list[int] = []
    after: int | None = None
    while True:
        page = await list_applications(
            runtime, ApplicationFilter(), PageRequest(first=4, after=after), BUREAU
        )
        seen += [view.id for view in page.items]
        if not page.has_next_page:
            break
        after = page.items[-1].id
        # a new application arriving meanwhile goes to the end, never into an earlier page
        await submit_application(runtime, submit_command(season), GUARDIAN)
    assert seen[: len(ids)] == ids
    assert seen == sorted(set(seen))
    for first in (0, 101, -1):
        with pytest.raises(InvalidInput) as bad:
            await list_applications(runtime, ApplicationFilter(), PageRequest(first), BUREAU)
        assert bad.value.field == "first"


async def test_batch_reads_stay_in_scope(runtime: Runtime, season: str) -> None:
    ids = await _seed(runtime, season)
    assert set(await evidence_for(runtime, ids, BUREAU)) == {ids[0], ids[3]}
    assert set(await evidence_for(runtime, ids, GUARDIAN)) == {ids[0]}
    assert set(await evidence_for(runtime, ids, OTHER_GUARDIAN)) == {ids[3]}
    assert await evidence_for(runtime, ids, OTHER_COUNTER) == {}
    staff = await reviews_for(runtime, ids, SCHOOL_REVIEWER)
    assert [r.reviewer for r in staff[ids[0]]] == ["reviewer-1"]
    family = await reviews_for(runtime, ids, GUARDIAN)
    assert [r.reviewer for r in family[ids[0]]] == [None]
    assert family[ids[0]][0].step_label == "学校审核"
    with pytest.raises(Forbidden):
        await evidence_for(runtime, ids, None)
