"""The documented shape of each --json document: a JSON Schema (draft 2020-12) made from the
result type a command emits, with the keys `render.to_data` gives it.

`docs/json/<command words joined by ->.schema.json` holds each one, written by
`scripts/json_schemas.py`; the tests validate real output against those files.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://macroinfra.invalid/json/"  # a name, never fetched


def _result_types() -> dict[str, Any]:
    from macroinfra.backup.dump import DumpResult
    from macroinfra.backup.restore import RestoreResult
    from macroinfra.data.demo import SeedResult
    from macroinfra.probes.result import DoctorReport
    from macroinfra.runtime.base import StackResult
    from macroinfra.runtime.status import StackStatus
    from macroinfra.settings import SettingsReport
    from macroinfra.timescale.contract import SchemaReport

    return {
        "config-show": SettingsReport,
        "doctor": DoctorReport,
        "schema-show": SchemaReport,
        "seed-demo": SeedResult,
        "db-dump": DumpResult,
        "db-restore": RestoreResult,
        "up": StackResult,
        "down": StackResult,
        "ps": StackResult,
        "restart": StackResult,
        "status": StackStatus,
    }


ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "What is wrong, in one line."},
        "hint": {"type": ["string", "null"], "description": "What to do about it."},
        "problems": {"type": "array", "items": {"type": "string"}},
        "exit_code": {"type": "integer", "enum": [1, 2]},
    },
}


def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    names = {**vars(module), "Any": Any, "Path": Path, "datetime": datetime, "date": date}
    names["timedelta"] = timedelta
    return typing.get_type_hints(cls, globalns=names, localns=_lazy_names())


def _lazy_names() -> dict[str, Any]:
    """Types that modules import for annotations only."""
    from macroinfra.backup.catalog import TableRows
    from macroinfra.probes.result import Check, Group, Status
    from macroinfra.runtime.base import ServiceState, StackResult
    from macroinfra.runtime.status import ConnectionVariable
    from macroinfra.settings import SettingValue
    from macroinfra.timescale.contract import DeclaredTable, Difference, TableReport
    from macroinfra.timescale.edition import ServerInfo
    from macroinfra.timescale.inspect import (
        HypertableInfo,
        JobInfo,
        SchemaInspection,
        TableInfo,
        UniqueIndex,
    )
    from macroinfra.timescale.spec import OrderBy

    return {
        t.__name__: t
        for t in (
            TableRows,
            Check,
            Group,
            Status,
            ServiceState,
            StackResult,
            ConnectionVariable,
            SettingValue,
            DeclaredTable,
            Difference,
            TableReport,
            ServerInfo,
            HypertableInfo,
            JobInfo,
            SchemaInspection,
            TableInfo,
            UniqueIndex,
            OrderBy,
        )
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        out = {**schema, "type": [*kinds, "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def of_type(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of the JSON that `render.to_data` makes of a value of type `tp`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        inner = of_type(rest[0], defs) if len(rest) == 1 else {"anyOf": []}
        if len(rest) > 1:
            inner["anyOf"] = [of_type(a, defs) for a in rest]
        return _nullable(inner) if type(None) in args else inner
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        item = args[0] if args else Any
        return {"type": "array", "items": of_type(item, defs)}
    if origin is dict and args and args[1] is not Any:
        return {"type": "object", "additionalProperties": of_type(args[1], defs)}
    if origin is dict or tp is dict:
        return {"type": "object"}
    if tp is Any:
        return {}
    if isinstance(tp, type) and issubclass(tp, bool):
        return {"type": "boolean"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [m.value for m in tp]}
    if isinstance(tp, type) and issubclass(tp, int):
        return {"type": "integer"}
    if tp in (float, Decimal, timedelta):
        return {"type": "number"}
    if tp is datetime:
        return {"type": "string", "format": "date-time"}
    if tp is date:
        return {"type": "string", "format": "date"}
    if tp in (str, Path):
        return {"type": "string"}
    if dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # a placeholder while its fields are made
            defs[name] = _object(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON shape for {tp!r}")


def _object(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    from macroinfra.cli.render import _key

    hints = _hints(cls)
    properties = {_key(f): of_type(hints[f.name], defs) for f in dataclasses.fields(cls)}
    for name in getattr(cls, "__json_properties__", ()):
        getter = getattr(cls, name).fget
        properties[name] = of_type(_hints_of(getter, cls)["return"], defs)
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _hints_of(function: Any, cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    return typing.get_type_hints(function, globalns=vars(module), localns=_lazy_names())


def document(name: str, body: dict[str, Any], defs: dict[str, Any], title: str) -> dict[str, Any]:
    """A top-level schema: the body's keys after `schema_version`, exactly those."""
    properties = {"schema_version": {"const": _version()}, **body["properties"]}
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"{ID_BASE}{name}.schema.json",
        "title": title,
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = dict(sorted(defs.items()))
    return schema


def _version() -> int:
    from macroinfra.cli.render import SCHEMA_VERSION

    return SCHEMA_VERSION


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema this module documents, by file stem."""
    out = {}
    for name, cls in _result_types().items():
        defs: dict[str, Any] = {}
        body = _object(cls, defs)
        title = f"macroinfra {name.replace('-', ' ')} --json"
        out[name] = document(name, body, defs, title)
    out["error"] = document("error", ERROR, {}, "macroinfra --json, when the command fails")
    return out
