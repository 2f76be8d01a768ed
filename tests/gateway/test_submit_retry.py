"""submitApplication with an idempotency key over GraphQL: a retry after a lost answer gets
the receipt number and query code again; a reused key with another form is a typed error."""

from __future__ import annotations

from typing import Any, Final

from ruxue_core.runtime import Runtime
from ruxue_core.testing.factories import GUARDIAN, GUARDIAN_ID, child_id_number
from ruxue_gateway.context import Context
from ruxue_gateway.schema import build_schema

SCHEMA = build_schema()
SUBMIT: Final = """
mutation($input: SubmitApplicationInput!) {
  submitApplication(input: $input) {
    __typename
    ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status version }
    ... on Error { code field }
  }
}"""


async def submit(runtime: Runtime, form: dict[str, Any]) -> Any:
    result = await SCHEMA.execute(
        SUBMIT, variable_values={"input": form}, context_value=Context(runtime, GUARDIAN)
    )
    assert result.errors is None and result.data is not None, result.errors
    return result.data["submitApplication"]


async def test_a_retry_with_the_key_gets_the_first_answer(runtime: Runtime, season: str) -> None:
    form = {
        "seasonCode": season,
        "child": {"name": "张小明", "idNumber": child_id_number()},
        "guardian": {"name": "张三", "idNumber": GUARDIAN_ID},
        "guardianPhone": "13812345678",
        "relationship": "FATHER",
        "address": "燕矶镇新街10号",
        "townshipCode": "420704101",
        "idempotencyKey": "retry-0001-abcdef",
    }
    first = await submit(runtime, form)
    assert first["__typename"] == "SubmitApplicationSuccess"
    assert await submit(runtime, form) == first
    reused = await submit(runtime, form | {"address": "燕矶镇新街12号"})
    assert (reused["code"], reused["field"]) == ("INVALID_INPUT", "idempotencyKey")
    without = await submit(runtime, {k: v for k, v in form.items() if k != "idempotencyKey"})
    assert without["code"] == "DUPLICATE"
