"""Prometheus metrics (``/metrics``), in the app's own registry.

- ``ruxue_graphql_requests_total{operation, outcome}`` and
  ``ruxue_graphql_request_duration_seconds{operation}``: GraphQL requests per operation, where
  the operation is ``<type>:<first root field>`` (``query:applications``). Client-chosen
  operation names are not labels (a client could make them endless); root fields are bounded
  by the schema, and anything else (a document that does not parse or names no known field) is
  ``invalid``. ``outcome`` is ``ok``, or ``error`` when the answer carries GraphQL errors.
- ``ruxue_jobs{status}`` and ``ruxue_jobs_by_kind{kind, status}``: outbox jobs, read from the
  database on each scrape.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Final

from graphql import FieldNode, OperationDefinitionNode
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from ruxue_core.runtime import Runtime
from ruxue_core.services.operations import job_counts, job_counts_by_kind

INVALID: Final = "invalid"
BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The gateway's metrics and its ``/metrics`` endpoint."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry()
        self.jobs = Gauge("ruxue_jobs", "Outbox jobs by state", ["status"], registry=self.registry)
        self.jobs_by_kind = Gauge(
            "ruxue_jobs_by_kind",
            "Outbox jobs by kind and state",
            ["kind", "status"],
            registry=self.registry,
        )
        self.requests = Counter(
            "ruxue_graphql_requests",
            "GraphQL requests by operation and outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ruxue_graphql_request_duration_seconds",
            "GraphQL request latency by operation",
            ["operation"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._series: dict[tuple[str, bool], tuple[Counter, Histogram]] = {}
        """The labelled series by (operation, failed): looked up once, not on every request
        (operations are bounded by the schema's root fields)."""

    def observe(self, operation: str, seconds: float, *, failed: bool) -> None:
        """Count one GraphQL request and its latency."""
        series = self._series.get((operation, failed))
        if series is None:
            outcome = "error" if failed else "ok"
            series = (
                self.requests.labels(operation=operation, outcome=outcome),
                self.latency.labels(operation=operation),
            )
            self._series[(operation, failed)] = series
        count, latency = series
        count.inc()
        latency.observe(seconds)

    def extension(self) -> type[SchemaExtension]:
        """A schema extension class that reports each operation here."""
        metrics = self

        class OperationMetrics(SchemaExtension):
            """Times each operation and labels it by its first root field."""

            def on_operation(self) -> Iterator[None]:
                """Time the whole operation: parsing, validation and execution."""
                started = time.perf_counter()
                failed = True  # unless the operation comes back without errors
                try:
                    yield
                    context = self.execution_context
                    result = context.result
                    failed = bool(context.pre_execution_errors) or bool(result and result.errors)
                finally:
                    metrics.observe(
                        _operation_label(self.execution_context),
                        time.perf_counter() - started,
                        failed=failed,
                    )

        return OperationMetrics

    async def endpoint(self, _request: Request) -> Response:
        """The metrics in Prometheus' text format; job counts read now."""
        counts = await job_counts(self.runtime)
        by_kind = await job_counts_by_kind(self.runtime)
        self.jobs.clear()
        for status, n in counts.items():
            self.jobs.labels(status=status.value).set(n)
        self.jobs_by_kind.clear()
        for (kind, status), n in by_kind.items():
            self.jobs_by_kind.labels(kind=kind, status=status.value).set(n)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _operation_label(context: ExecutionContext) -> str:
    """``<type>:<first root field>`` of the operation that ran, or ``invalid``."""
    document = context.graphql_document
    if document is None:
        return INVALID
    name = context.operation_name
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if name is None or (o.name and o.name.value == name)]
    if len(chosen) != 1:
        return INVALID
    operation = chosen[0]
    graphql_schema = getattr(context.schema, "_schema", None)
    root = graphql_schema.get_root_type(operation.operation) if graphql_schema else None
    first = next((s for s in operation.selection_set.selections if isinstance(s, FieldNode)), None)
    if root is None or first is None or first.name.value not in {*root.fields, "__typename"}:
        return INVALID
    return f"{operation.operation.value}:{first.name.value}"
