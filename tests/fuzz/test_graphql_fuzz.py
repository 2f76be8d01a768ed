"""schemathesis against the real ASGI app's ``/graphql``: every query and mutation, every role.

The schema is loaded by introspection from an app on a migrated database holding the sample
season and a few records for generated input to hit. Each operation runs anonymously, as a
guardian (with a verified ID number), as counter staff, as a school reviewer, as a bureau
officer, as an admin and as an auditor, under the one check ``not_a_server_error``: every
expected refusal must come back as a typed union result, so an error raised inside a resolver
(a refusal its union does not declare, say) fails the test.

``RUXUE_FUZZ_EXAMPLES`` (N) is the number of generated requests per caller and per mode:
each operation gets its share, N divided by the number of operations (rounded up), in
positive mode (valid documents that reach the resolvers) and again in negative mode (wrong
types and missing arguments, which validation must refuse without a server fault). The
default, 150, keeps the test suite fast; ``N=2000 nox -s fuzz`` runs 2,000 per mode. Each
caller's test prints how many requests it sent (hypothesis draws fewer than asked for an
operation without arguments).

The ``Upload`` scalar is drawn as strings and numbers (a JSON request has no file part), so
``uploadMaterial`` is fuzzed up to its refusal of a missing file; its multipart path is tested
in ``tests/gateway/test_uploads_http.py``.

Random strings and ids almost never name a real record, so the ``ID`` and ``String`` scalars
are widened to draw, half the time, from the seeded records' ids, receipt numbers, query codes,
valid form values and a staff account's credentials: that reaches the paths behind the format
checks (permission, scope and status refusals, the query-code failure counter and its lock,
staff sign-in and its lockout).

Operations run as subtests of one test per caller rather than through
``schemathesis.pytest.from_fixture``, which fails on pytest 9 (it sets ``Function._nodeid``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation
from schemathesis.specs.graphql import scalars
from schemathesis.specs.graphql.schemas import GraphQLSchema
from starlette.applications import Starlette

from ruxue_core.domain.enums import Role
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import Submitted, submit_application
from ruxue_core.services.staff import AddStaff, add_staff
from ruxue_core.settings import Settings
from ruxue_core.testing.factories import (
    ADMIN,
    AUDITOR,
    BUREAU,
    COUNTER,
    GUARDIAN,
    SCHOOL_REVIEWER,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork
from ruxue_gateway.app import create_app

EXAMPLES: Final = int(os.environ.get("RUXUE_FUZZ_EXAMPLES", "150"))
MODES: Final = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CALLERS: Final[dict[str, Principal | None]] = {
    "anonymous": None,
    "guardian": GUARDIAN,
    "counter": COUNTER,
    "school": SCHOOL_REVIEWER,
    "bureau": BUREAU,
    "admin": ADMIN,
    "auditor": AUDITOR,
}
OPERATIONS: Final = {
    "Query.applicationStatus",
    "Query.application",
    "Query.viewer",
    "Query.deadJobs",
    "Query.applications",
    "Query.myApplications",
    "Query.seasons",
    "Query.schools",
    "Query.me",
    "Query.statistics",
    "Query.auditTrail",
    "Mutation.submitApplication",
    "Mutation.reviewApplication",
    "Mutation.withdrawApplication",
    "Mutation.correctApplication",
    "Mutation.changeGuardianPhone",
    "Mutation.uploadMaterial",
    "Mutation.retryJob",
    "Mutation.staffSignIn",
    "Mutation.staffSignOut",
    "Mutation.guardianSignOut",
    "Query.lottery",
    "Query.placementRun",
    "Query.comparePlacementRuns",
    "Query.explainPlacement",
    "Query.seatWarnings",
    "Mutation.commitLottery",
    "Mutation.revealLottery",
    "Mutation.runPlacement",
    "Mutation.publishPlacement",
    "Mutation.confirmEnrollment",
    "Mutation.recordNoShow",
    "Mutation.placeCoordinated",
}
STAFF_USERNAME: Final = "fuzz-counter"
STAFF_PASSWORD: Final = "fuzzing password"
# Ids past the seeded rows: 32-bit and 64-bit edges, and the longest id ``parse_id`` accepts.
EDGE_IDS: Final = ("0", "2147483647", "2147483648", "9223372036854775807", "9" * 18)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)

Operation = APIOperation[Any, Any, Any, Any]

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Seed:
    """What the seeded database holds, for the scalar strategies to draw from."""

    season: str
    submitted: tuple[Submitted, ...]
    form_values: tuple[str, ...]


@pytest.fixture
async def seeded(runtime: Runtime, season: str) -> Seed:
    """Applications 1 and 2 in manual review and 3 just submitted (all the guardian's own, in
    the counter's township and the school reviewer's school), a dead-lettered job and a staff
    account."""
    submitted: list[Submitted] = []
    for n in (1, 2):
        command = submit_command(season, child_id=child_id_number(900 + n))
        submitted.append(await submit_application(runtime, command, GUARDIAN))

    def unhandled_job(uow: UnitOfWork) -> None:
        uow.enqueue("fuzz.unhandled", {}, key="fuzz-unhandled")
        uow.commit()

    await runtime.write(unhandled_job)
    # With no verifier configured, verification refers both applications to manual review;
    # the job no handler knows is dead-lettered.
    await Worker(runtime, HANDLERS).drain()
    command = submit_command(season, child_id=child_id_number(903))
    submitted.append(await submit_application(runtime, command, GUARDIAN))
    account = AddStaff(
        STAFF_USERNAME, "模糊测试", Role.COUNTER_STAFF, STAFF_PASSWORD, region_code="420704101"
    )
    await add_staff(runtime, account, Principal.system())
    fresh = submit_command(season, child_id=child_id_number(904))
    form_values = (
        fresh.child.name,
        fresh.child.id_number,
        fresh.guardian.id_number,
        fresh.guardian_phone,
        fresh.address,
        fresh.township_code,
        STAFF_USERNAME,
        STAFF_PASSWORD,
    )
    return Seed(season, tuple(submitted), form_values)


@pytest.fixture
def known_values(seeded: Seed) -> Iterator[None]:
    """Widen the ``ID`` and ``String`` scalars with the seeded values, for this test only."""
    ids = [str(n) for n in range(1, 13)]
    strings = [seeded.season, *seeded.form_values]
    for result in seeded.submitted:
        strings += [result.receipt_no, result.query_code]
    for name in ("ID", "String", "Upload"):
        scalars.CUSTOM_SCALARS.pop(name, None)
    try:
        schemathesis.graphql.scalar(
            "ID",
            st.one_of(
                st.sampled_from(ids).map(nodes.String),
                st.integers(min_value=1, max_value=12).map(nodes.Int),
                st.sampled_from(EDGE_IDS).map(nodes.String),
                st.text().map(nodes.String),
                INT32.map(nodes.Int),
            ),
        )
        schemathesis.graphql.scalar(
            "String", st.one_of(st.sampled_from(strings), st.text()).map(nodes.String)
        )
        # A JSON request carries no file part: whatever stands in for the file is refused.
        schemathesis.graphql.scalar(
            "Upload", st.one_of(st.text().map(nodes.String), INT32.map(nodes.Int))
        )
        yield
    finally:
        # ``scalar()`` registers process-wide and there is no public way to unregister.
        for name in ("ID", "String", "Upload"):
            scalars.CUSTOM_SCALARS.pop(name, None)


@pytest.fixture
def app(settings: Settings, seeded: Seed) -> Iterator[Starlette]:
    """The gateway on the seeded database, with a runtime of its own: schemathesis runs ASGI
    apps and their lifespans in its own event loop, and connections belong to one loop."""
    application = create_app(settings, in_process_worker=False)
    yield application
    asgi.shutdown_lifespans()  # the app's lifespan closes its runtime


@pytest.fixture
def graphql_schema(app: Starlette) -> GraphQLSchema:
    """The schema the app serves, by introspection. Positive generation only: valid queries
    reach the resolvers; invalid ones would only exercise graphql-core's validation."""
    config = SchemathesisConfig.from_dict({"generation": {"mode": "positive"}})
    return schemathesis.graphql.from_asgi("/graphql", app, config=config)


def headers_for(settings: Settings, caller: str) -> dict[str, str]:
    """Request headers for one caller: none, or a development bearer token."""
    principal = CALLERS[caller]
    if principal is None:
        return {}
    return {"Authorization": f"Bearer {issue_dev_token(settings, principal)}"}


def operations_of(schema: GraphQLSchema) -> list[Operation]:
    """Every query and mutation; a field schemathesis cannot test is an error, not a skip."""
    found: list[Operation] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        found.append(result.ok())
    return found


def fuzz(operation: Operation, headers: dict[str, str], mode: GenerationMode, examples: int) -> int:
    """Send up to ``examples`` generated requests for one operation; fail on any server error.

    :return: how many requests were sent.
    """
    sent = 0

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: Case[Operation]) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(headers=dict(headers), checks=[not_a_server_error])

    run()
    return sent


@pytest.mark.usefixtures("known_values")
@pytest.mark.parametrize("caller", list(CALLERS))
def test_no_server_errors(
    graphql_schema: GraphQLSchema, settings: Settings, caller: str, subtests: pytest.Subtests
) -> None:
    """No operation raises, whoever calls it with whatever valid input."""
    operations = operations_of(graphql_schema)
    labels = {operation.label for operation in operations}
    assert labels >= OPERATIONS, f"operations missing from the schema: {OPERATIONS - labels}"
    headers = headers_for(settings, caller)
    share = -(-EXAMPLES // len(operations))
    sent = dict.fromkeys(MODES, 0)
    started = time.perf_counter()
    for mode in MODES:
        for operation in operations:
            with subtests.test(operation.label, mode=mode.value):
                sent[mode] += fuzz(operation, headers, mode, share)
    print(  # the figures `nox -s fuzz` reports
        f"\nfuzz {caller}: {sent[GenerationMode.POSITIVE]} positive + "
        f"{sent[GenerationMode.NEGATIVE]} negative requests over {len(operations)} operations "
        f"in {time.perf_counter() - started:.0f} s"
    )
