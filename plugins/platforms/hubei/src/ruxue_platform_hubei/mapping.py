"""The mapping of Ruxue's canonical case records onto the platform's interfaces, field names
and code tables: configuration, validated when the reporter is built.

The default (``default_mapping.toml`` beside this module) is a reasoned guess; a deployment
replaces it with ``plugin_options.hubei.mapping_file`` (a TOML file) or
``plugin_options.hubei.mapping`` (the same tables inline).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ruxue_core import CaseRecordPush, ConfigurationError

KINDS = ("accept", "process", "special", "result")
Status = Literal["received", "acknowledged", "rejected", "unknown"]
STATUSES: tuple[Status, ...] = ("received", "acknowledged", "rejected", "unknown")
PERSONAL = ("applicant_name", "applicant_id_number", "applicant_phone", "query_code")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Transport(_Strict):
    """How records and acknowledgement queries travel, and how times are written."""

    push_path: str = "/api/{interface}"
    ack_path: str = "/api/ack/query"
    receipt_field: str
    version_field: str
    status_field: str = "status"
    message_field: str = "message"
    datetime_format: str = "%Y-%m-%d %H:%M:%S"
    date_format: str = "%Y-%m-%d"
    timezone: str = "Asia/Shanghai"
    statuses: dict[str, Status] = Field(default_factory=lambda: {str(s): s for s in STATUSES})


class Source(_Strict):
    """Where one platform field's value comes from."""

    source: str | None = Field(default=None, alias="from")
    codes: str | None = None
    format: Literal["datetime", "date"] | None = None
    value: str | int | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> Source:
        if (self.source is None) == (self.value is None):
            raise ValueError("give either `from` or `value`")
        return self


class CaseMapping(_Strict):
    """A whole mapping: transport, interfaces, per-kind fields and code tables."""

    transport: Transport
    interfaces: dict[str, list[Literal["accept", "process", "special", "result"]]]
    fields: dict[Literal["accept", "process", "special", "result"], dict[str, str | Source]]
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> CaseMapping:
        routed = [kind for kinds in self.interfaces.values() for kind in kinds]
        if sorted(routed) != sorted(KINDS):
            raise ValueError(f"interfaces must take each record kind once: {KINDS}")
        for kind in KINDS:
            if kind not in self.fields:
                raise ValueError(f"fields.{kind} is missing")
            for name, origin in self.fields[kind].items():
                if isinstance(origin, Source) and origin.codes and origin.codes not in self.codes:
                    raise ValueError(f"fields.{kind}.{name}: no code table {origin.codes!r}")
                source = origin if isinstance(origin, str) else origin.source
                if source and source.startswith("personal.") and source[9:] not in PERSONAL:
                    raise ValueError(f"fields.{kind}.{name}: unknown personal field {source}")
        try:
            ZoneInfo(self.transport.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.transport.timezone!r}") from None
        return self

    def interface_for(self, kind: str) -> str:
        """The interface that takes records of ``kind``."""
        return next(name for name, kinds in self.interfaces.items() if kind in kinds)

    def render(self, record: CaseRecordPush) -> dict[str, Any]:
        """The platform's body for ``record``: its fields, translated and formatted."""
        zone = ZoneInfo(self.transport.timezone)
        body: dict[str, Any] = {}
        for name, origin in self.fields[record.kind].items():  # type: ignore[index]
            spec = Source.model_validate({"from": origin}) if isinstance(origin, str) else origin
            body[name] = self._value(spec, record, zone)
        return body

    def _value(self, spec: Source, record: CaseRecordPush, zone: ZoneInfo) -> Any:
        if spec.value is not None:
            return spec.value
        assert spec.source is not None
        if spec.source.startswith("personal."):
            value: Any = record.personal.get(spec.source.removeprefix("personal."))
        else:
            value = record.payload.get(spec.source)
        if value is None:
            return None
        if spec.codes is not None:
            return self.codes[spec.codes].get(str(value))
        if spec.format is not None:
            return _format(str(value), spec.format, self.transport, zone)
        return value


def _format(value: str, kind: str, transport: Transport, zone: ZoneInfo) -> str:
    """An ISO date or time in the platform's format and timezone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if kind == "date":
        return moment.strftime(transport.date_format)
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.strftime(transport.datetime_format)


def default_mapping_data() -> dict[str, Any]:
    """The bundled default mapping's tables."""
    text = resources.files(__package__).joinpath("default_mapping.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_mapping(options: Mapping[str, Any]) -> CaseMapping:
    """The mapping the plugin options name (``mapping`` inline, ``mapping_file``, or the
    bundled default).

    :raises ConfigurationError: the mapping is unreadable or incomplete (names the problem).
    """
    data: Any
    if options.get("mapping") is not None:
        data = options["mapping"]
    elif options.get("mapping_file"):
        path = Path(str(options["mapping_file"]))
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"办件回传字段映射文件 {path} 无法读取：{exc}") from None
    else:
        data = default_mapping_data()
    try:
        return CaseMapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigurationError(f"办件回传字段映射有误：{where}：{first['msg']}") from None
