"""Drafts (草稿): a guardian fills an application over several visits, then submits it.

A draft holds any subset of the form's fields; each given field is checked on its own (an
error names it) and the fields are stored encrypted, like a submitted application's. Only the
guardian whose verified identity started it sees it (others get the same ``NotFound`` as a
missing one). A draft is not an application: no receipt number, no work list, no statistic,
no verification, until :func:`submit_draft` turns it into one through the very path
``submitApplication`` takes (idempotency key included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core.audit import AuditEntry
from ruxue_core.db import execute
from ruxue_core.domain import ApplicationDraft, Region, Season
from ruxue_core.domain.enums import Relationship, Role
from ruxue_core.errors import Conflict, Duplicate, Forbidden, InvalidInput, NotFound
from ruxue_core.lifecycle import Case
from ruxue_core.permissions import require_role
from ruxue_core.phases import Phase, require_phase
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import validate_address, validate_code, validate_name, validate_phone
from ruxue_core.rules.national_id import parse_national_id
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_address, mask_id_number, mask_phone
from ruxue_core.services.applications import (
    PersonInput,
    SubmitApplication,
    Submitted,
    submit_form,
    validate_form,
)
from ruxue_core.uow import UnitOfWork

MAX_DRAFTS: Final = 10
"""Open drafts one guardian may keep at once."""
NOT_FOUND: Final = "草稿不存在或无权查看"
PURPOSE: Final = "draft.data"
FIELDS: Final = (
    "child.name",
    "child.idNumber",
    "guardian.name",
    "guardian.idNumber",
    "guardianPhone",
    "relationship",
    "address",
    "townshipCode",
)
"""The fields a draft needs before it can be submitted (``consent`` is optional)."""


@dataclass(frozen=True, slots=True)
class DraftFields:
    """Fields to set on a draft: ``None`` leaves a field as it is, ``""`` clears it."""

    child_name: str | None = None
    child_id_number: str | None = None
    guardian_name: str | None = None
    guardian_id_number: str | None = None
    guardian_phone: str | None = None
    relationship: Relationship | None = None
    address: str | None = None
    township_code: str | None = None
    consent: bool | None = None
    primary_school_code: str | None = None
    """小升初 (junior seasons): the primary school the child graduates from."""


@dataclass(frozen=True, slots=True)
class StartDraft:
    """Command: start a draft for a season, with whatever fields are at hand."""

    season_code: str
    fields: DraftFields = field(default_factory=DraftFields)


@dataclass(frozen=True, slots=True)
class UpdateDraft:
    """Command: change some fields of a draft (guarded by ``expected_version``)."""

    draft_id: int
    fields: DraftFields
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class SubmitDraft:
    """Command: submit a complete draft; ``idempotency_key`` as for ``submitApplication``."""

    draft_id: int
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class DraftView:
    """A draft as its owner sees it: personal numbers and the address masked.

    :ivar missing: the fields still needed before it can be submitted.
    """

    id: int
    season_code: str
    version: int
    child_name: str | None
    child_id_number: str | None
    guardian_name: str | None
    guardian_id_number: str | None
    guardian_phone: str | None
    relationship: Relationship | None
    address: str | None
    township_code: str | None
    consent: bool
    primary_school_code: str | None
    missing: tuple[str, ...]
    application_id: int | None
    created_at: datetime
    updated_at: datetime


def _owner(actor: Principal, uow: UnitOfWork) -> str:
    assert actor.verified_id_number is not None
    return uow.cipher.blind_index(actor.verified_id_number, purpose="draft.owner")


def _guardian(principal: Principal | None) -> Principal:
    actor = require_role(principal, Role.GUARDIAN)
    if not actor.verified_id_number:
        raise Forbidden("请使用实名认证的账号登录后再报名")
    return actor


def _checked(fields: DraftFields, actor: Principal) -> dict[str, Any]:
    """The given fields, each validated on its own; ``None`` marks a field to clear.

    :raises InvalidInput: naming the first field at fault.
    """
    values: dict[str, Any] = {}

    def put(name: str, raw: str | None, check: Any) -> None:
        if raw is None:
            return
        values[name] = check(raw) if raw.strip() else None

    put("child.name", fields.child_name, lambda v: validate_name(v, field="child.name"))
    put(
        "child.idNumber",
        fields.child_id_number,
        lambda v: parse_national_id(v, field="child.idNumber").value,
    )
    put("guardian.name", fields.guardian_name, lambda v: validate_name(v, field="guardian.name"))
    put(
        "guardian.idNumber",
        fields.guardian_id_number,
        lambda v: parse_national_id(v, field="guardian.idNumber").value,
    )
    put("guardianPhone", fields.guardian_phone, lambda v: validate_phone(v, field="guardianPhone"))
    put("address", fields.address, lambda v: validate_address(v, field="address"))
    put(
        "townshipCode",
        fields.township_code,
        lambda v: validate_code(v, field="townshipCode", message="乡镇（街道）代码格式不正确"),
    )
    put(
        "primarySchoolCode",
        fields.primary_school_code,
        lambda v: validate_code(v, field="primarySchoolCode", message="小学代码格式不正确"),
    )
    if values.get("guardian.idNumber") not in (None, actor.verified_id_number):
        raise InvalidInput("监护人身份证号码须为登录人本人的号码", field="guardian.idNumber")
    if actor.name and values.get("guardian.name") not in (None, actor.name):
        raise InvalidInput("监护人姓名须与实名认证的姓名一致", field="guardian.name")
    if fields.relationship is not None:
        values["relationship"] = fields.relationship.value
    if fields.consent is not None:
        values["consent"] = fields.consent
    return values


def _merged(data: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**data, **changes}
    merged = {k: v for k, v in merged.items() if v is not None}
    child, guardian = merged.get("child.idNumber"), merged.get("guardian.idNumber")
    if child is not None and child == guardian:
        raise InvalidInput("儿童与监护人的身份证号码不能相同", field="child.idNumber")
    return merged


def _township_of_season(uow: UnitOfWork, code: str) -> None:
    found = uow.session.exec(
        select(Region.id).where(col(Region.code) == code, col(Region.level) == "township")
    ).first()
    if found is None:
        raise InvalidInput("所选乡镇（街道）不在本招生季的范围内", field="townshipCode")


def _view(uow: UnitOfWork, draft: ApplicationDraft) -> DraftView:
    data = uow.cipher.decrypt_json(draft.data_ct, purpose=PURPOSE)
    assert draft.id is not None

    def masked(name: str, mask: Any) -> str | None:
        value = data.get(name)
        return mask(value) if isinstance(value, str) else None

    relationship = data.get("relationship")
    return DraftView(
        id=draft.id,
        season_code=draft.season_code,
        version=draft.version,
        child_name=data.get("child.name"),
        child_id_number=masked("child.idNumber", mask_id_number),
        guardian_name=data.get("guardian.name"),
        guardian_id_number=masked("guardian.idNumber", mask_id_number),
        guardian_phone=masked("guardianPhone", mask_phone),
        relationship=Relationship(relationship) if relationship else None,
        address=masked("address", mask_address),
        township_code=data.get("townshipCode"),
        consent=bool(data.get("consent", False)),
        primary_school_code=data.get("primarySchoolCode"),
        missing=tuple(name for name in FIELDS if data.get(name) is None),
        application_id=draft.application_id,
        created_at=draft.created_at,
        updated_at=draft.updated_at,
    )


def _audit(uow: UnitOfWork, actor: Principal, action: str, draft_id: int, names: Any) -> None:
    uow.audit(
        AuditEntry(
            actor.id,
            actor.role.value,
            action,
            "application_draft",
            str(draft_id),
            {"fields": sorted(names)},
            at=uow.now,
        )
    )


async def start_draft(rt: Runtime, command: StartDraft, principal: Principal | None) -> DraftView:
    """Start a draft (guardians with a real-name verified login).

    :raises Forbidden: not such a guardian.
    :raises InvalidInput: a field is malformed (``field`` names it), no such season, or too
        many open drafts.
    :raises OutOfPhase: registration is not open.
    """
    actor = _guardian(principal)
    validate_code(command.season_code, field="seasonCode", message="招生季不存在")
    changes = _checked(command.fields, actor)
    data = _merged({}, changes)

    def start(uow: UnitOfWork) -> DraftView:
        season = uow.session.exec(
            select(Season).where(col(Season.code) == command.season_code)
        ).first()
        if season is None:
            raise InvalidInput("招生季不存在", field="seasonCode")
        require_phase(season, Phase.REGISTRATION, uow.now)
        if data.get("townshipCode"):
            _township_of_season(uow, data["townshipCode"])
        owner = _owner(actor, uow)
        open_drafts = uow.session.execute(
            sa.select(sa.func.count())
            .select_from(ApplicationDraft)
            .where(
                col(ApplicationDraft.owner_idx) == owner,
                col(ApplicationDraft.application_id).is_(None),
            )
        ).scalar_one()
        if open_drafts >= MAX_DRAFTS:
            raise InvalidInput(f"未提交的草稿最多{MAX_DRAFTS}份", field="seasonCode")
        draft = ApplicationDraft(
            owner_idx=owner,
            season_code=command.season_code,
            data_ct=uow.cipher.encrypt_json(data, purpose=PURPOSE),
            created_at=uow.now,
            updated_at=uow.now,
        )
        uow.insert_now(draft)
        assert draft.id is not None
        _audit(uow, actor, "draft.start", draft.id, data)
        view = _view(uow, draft)
        uow.commit()
        return view

    return await rt.write(start)


def _owned(uow: UnitOfWork, actor: Principal, draft_id: int) -> ApplicationDraft:
    draft = uow.session.get(ApplicationDraft, draft_id)
    if draft is None or not uow.cipher.matches(
        actor.verified_id_number or "", draft.owner_idx, purpose="draft.owner"
    ):
        raise NotFound(NOT_FOUND, field="draftId")
    return draft


async def update_draft(rt: Runtime, command: UpdateDraft, principal: Principal | None) -> DraftView:
    """Change some fields of the caller's own draft.

    :raises Forbidden: not a real-name verified guardian.
    :raises NotFound: no such draft of the caller's.
    :raises InvalidInput: a malformed field (named), or the draft was already submitted.
    :raises Conflict: ``expected_version`` is stale.
    :raises OutOfPhase: registration is not open.
    """
    actor = _guardian(principal)
    changes = _checked(command.fields, actor)

    def update(uow: UnitOfWork) -> DraftView:
        draft = _owned(uow, actor, command.draft_id)
        if draft.application_id is not None:
            raise InvalidInput("草稿已提交，不能再修改", field="draftId")
        if command.expected_version is not None and draft.version != command.expected_version:
            raise Conflict()
        season = uow.session.exec(
            select(Season).where(col(Season.code) == draft.season_code)
        ).first()
        if season is not None:
            require_phase(season, Phase.REGISTRATION, uow.now, field="draftId")
        if changes.get("townshipCode"):
            _township_of_season(uow, changes["townshipCode"])
        data = _merged(uow.cipher.decrypt_json(draft.data_ct, purpose=PURPOSE), changes)
        values = {
            "data_ct": uow.cipher.encrypt_json(data, purpose=PURPOSE),
            "version": draft.version + 1,
            "updated_at": uow.now,
        }
        statement = (
            sa.update(ApplicationDraft)
            .where(col(ApplicationDraft.id) == draft.id)
            .where(col(ApplicationDraft.version) == draft.version)
            .values(**values)
        )
        if execute(uow.session, statement) != 1:
            raise Conflict()
        for key, value in values.items():
            setattr(draft, key, value)
        assert draft.id is not None
        _audit(uow, actor, "draft.update", draft.id, changes)
        view = _view(uow, draft)
        uow.commit()
        return view

    return await rt.write(update)


async def my_drafts(rt: Runtime, principal: Principal | None) -> list[DraftView]:
    """The caller's drafts not yet submitted, newest first.

    :raises Forbidden: not a real-name verified guardian.
    """
    actor = _guardian(principal)

    def read(uow: UnitOfWork) -> list[DraftView]:
        rows = uow.session.exec(
            select(ApplicationDraft)
            .where(
                col(ApplicationDraft.owner_idx) == _owner(actor, uow),
                col(ApplicationDraft.application_id).is_(None),
            )
            .order_by(col(ApplicationDraft.id).desc())
            .limit(MAX_DRAFTS)
        ).all()
        return [_view(uow, row) for row in rows]

    return await rt.read(read)


def _command(
    draft: ApplicationDraft, data: Mapping[str, Any], key: str | None
) -> SubmitApplication:
    missing = [name for name in FIELDS if data.get(name) is None]
    if missing:
        raise InvalidInput(f"草稿还缺少：{'、'.join(missing)}", field=missing[0])
    return SubmitApplication(
        season_code=draft.season_code,
        child=PersonInput(data["child.name"], data["child.idNumber"]),
        guardian=PersonInput(data["guardian.name"], data["guardian.idNumber"]),
        guardian_phone=data["guardianPhone"],
        relationship=Relationship(data["relationship"]),
        address=data["address"],
        township_code=data["townshipCode"],
        consent=bool(data.get("consent", False)),
        idempotency_key=key,
        primary_school_code=data.get("primarySchoolCode"),
    )


async def submit_draft(rt: Runtime, command: SubmitDraft, principal: Principal | None) -> Submitted:
    """Submit the caller's complete draft as ``submitApplication`` would submit its fields.

    A retry with the same idempotency key returns the first answer; without one, a draft
    already submitted is ``Duplicate``.

    :raises Forbidden, NotFound: as :func:`update_draft`.
    :raises InvalidInput: a field is missing (the first named) or wrong.
    :raises Ineligible, Duplicate: as ``submitApplication``.
    """
    actor = _guardian(principal)

    def submit(uow: UnitOfWork) -> Submitted:
        draft = _owned(uow, actor, command.draft_id)
        data = uow.cipher.decrypt_json(draft.data_ct, purpose=PURPOSE)
        form = validate_form(_command(draft, data, command.idempotency_key), actor)

        def not_yet() -> None:
            if draft.application_id is not None:
                raise Duplicate("草稿已提交", field="draftId")

        def link(case: Case) -> None:
            uow.session.execute(
                sa.update(ApplicationDraft)
                .where(col(ApplicationDraft.id) == draft.id)
                .where(col(ApplicationDraft.application_id).is_(None))
                .values(application_id=case.id, version=draft.version + 1, updated_at=uow.now)
            )

        return submit_form(uow, form, actor, before=not_yet, after=link)

    return await rt.write(submit)
