"""Rows written at commit from column values (the hot paths' way, without model objects)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from ruxue_core.domain import Region
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork


async def test_values_naming_every_column_are_written_at_commit(runtime: Runtime) -> None:
    def work(uow: UnitOfWork) -> None:
        values: dict[str, object] = {c: None for c in Region.model_fields if c != "id"}
        values |= {"code": "420799999", "name": "测试乡", "level": "township"}
        uow.insert_values_at_commit(Region, values)
        uow.commit()

    await runtime.write(work)
    stored = await runtime.read(
        lambda uow: uow.session.exec(select(Region).where(Region.code == "420799999")).one()
    )
    assert stored.name == "测试乡"


@pytest.mark.parametrize(
    ("change", "refusal"),
    [({"drop": "name"}, r"missing \['name'\]"), ({"add": "colour"}, r"unknown \['colour'\]")],
)
async def test_values_missing_or_unknown_columns_are_refused(
    runtime: Runtime, change: dict[str, str], refusal: str
) -> None:
    values: dict[str, object] = {c: None for c in Region.model_fields if c != "id"}
    values |= {"code": "420799998", "name": "测试乡", "level": "township"}
    values.pop(change.get("drop", ""), None)
    if "add" in change:
        values[change["add"]] = "red"

    def work(uow: UnitOfWork) -> None:
        with pytest.raises(ValueError, match=refusal):
            uow.insert_values_at_commit(Region, values)
        uow.commit()

    await runtime.write(work)
    stored = await runtime.read(
        lambda uow: uow.session.exec(select(Region).where(Region.code == "420799998")).first()
    )
    assert stored is None
