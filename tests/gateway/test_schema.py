"""The committed SDL matches the code, and every core vocabulary is fully exposed."""

from __future__ import annotations

from pathlib import Path

from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.enum import StrawberryEnumDefinition

from ruxue_core import errors
from ruxue_core.domain.enums import STATUS_LABELS, Status
from ruxue_core.season_issues import SeasonFileInvalid
from ruxue_gateway.schema import schema
from ruxue_gateway.schema.errors import ERROR_TYPES

SDL = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_committed_schema_has_not_drifted() -> None:
    committed = SDL.read_text(encoding="utf-8").strip()
    assert committed == str(schema).strip(), "schema drifted: run `nox -s schema` and commit"


def test_every_status_has_a_graphql_value_and_a_label() -> None:
    enum = schema.get_type_by_name("ApplicationStatus")
    assert isinstance(enum, StrawberryEnumDefinition)
    values = {v.name for v in enum.values}
    assert values == {s.name for s in Status}
    assert set(STATUS_LABELS) == set(Status)
    assert all(STATUS_LABELS[s] for s in Status)


def test_every_core_refusal_has_a_typed_result() -> None:
    refusals = _subclasses(errors.RuxueError) - {
        errors.RuxueError,
        errors.ConfigurationError,  # an operator's problem, never a client's
        SeasonFileInvalid,  # a season file's problems, shown to the operator loading it
    }
    assert refusals == set(ERROR_TYPES)
    for refusal, error_type in ERROR_TYPES.items():
        definition = schema.get_type_by_name(error_type.__name__)
        assert isinstance(definition, StrawberryObjectDefinition), error_type
        assert error_type.__name__ == f"{refusal.__name__}Error"


def test_error_codes_are_one_graphql_enum() -> None:
    """``Error.code`` is the enum ``ErrorCode``: one value per core code, one code per class."""
    enum = schema.get_type_by_name("ErrorCode")
    assert isinstance(enum, StrawberryEnumDefinition)
    assert {v.name for v in enum.values} == {c.name for c in errors.ErrorCode}
    # SeasonFileInvalid is InvalidInput with a file/row/field table: it shares the code.
    classes = _subclasses(errors.RuxueError) - {errors.RuxueError, SeasonFileInvalid}
    assert sorted(cls.code for cls in classes) == sorted(errors.ErrorCode)
    assert "code: ErrorCode!" in str(schema)


def _subclasses(cls: type[errors.RuxueError]) -> set[type[errors.RuxueError]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found | {cls}


async def test_small_documents_are_parsed_once() -> None:
    """The parser cache hits for a repeated small document (the token limiter's parse option
    used to make every request miss), and a document over the limit is parsed every time."""
    from ruxue_gateway.schema import _parse_cached, build_schema

    schema = build_schema(cached_document_chars=200)
    query = "query CacheProbe { __typename }"
    before = _parse_cached.cache_info()
    for _ in range(3):
        result = await schema.execute(query)
        assert result.errors is None
    after = _parse_cached.cache_info()
    assert after.hits - before.hits >= 2  # the validation cache's first miss reads it too
    assert after.misses - before.misses <= 1
    big = "query Big { __typename }" + " " * 300
    await schema.execute(big)
    assert _parse_cached.cache_info().currsize == after.currsize


async def test_small_documents_are_validated_once_and_large_ones_still_validated() -> None:
    """The validation cache hits for a repeated cached document; a document the caches are off
    for is still validated (a depth over the limit is refused either way)."""
    from ruxue_gateway.schema import _validate_cached, build_schema

    schema = build_schema(cached_document_chars=200)
    query = "query ValidationProbe { __typename }"
    await schema.execute(query)
    before = _validate_cached.cache_info()
    for _ in range(2):
        assert (await schema.execute(query)).errors is None
    assert _validate_cached.cache_info().hits - before.hits == 2
    unknown = "query Unknown { noSuchField }"
    for uncached in (schema, build_schema(cached_document_chars=None)):
        result = await uncached.execute(unknown)
        assert result.errors and "noSuchField" in result.errors[0].message
