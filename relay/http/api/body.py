"""Request bodies: size-capped, JSON, and valid against the schema the document publishes."""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
from aiohttp import web

from relay.http.api.errors import ApiError
from relay.http.api.schemas import REF, components

_CHUNK = 64 * 1024


async def read_capped(request: web.Request, cap: int) -> bytes:
    """The body, or 413 as soon as it is known to be longer than `cap` (from Content-Length,
    else while reading: a chunked upload is never held in memory beyond the cap)."""
    too_large = ApiError(
        "body-too-large",
        f"a request body may have at most {cap} bytes",
        headers={"Connection": "close"},
    )
    if request.content_length is not None and request.content_length > cap:
        raise too_large
    chunks, size = [], 0
    while chunk := await request.content.read(_CHUNK):
        size += len(chunk)
        if size > cap:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: web.Request, cap: int) -> tuple[Any, bytes]:
    """(the parsed JSON, the raw bytes)."""
    media = request.content_type
    if media != "application/json":
        raise ApiError(
            "unsupported-media-type",
            f"the body must be application/json, not {media or 'unnamed'}",
        )
    raw = await read_capped(request, cap)
    try:
        return json.loads(raw), raw
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError("invalid-json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # nested deeper than Python's stack: no request needs that
        raise ApiError("invalid-json", "the body is nested too deeply") from None


@functools.cache
def _validator(schema_name: str) -> jsonschema.protocols.Validator:
    """A validator of one component, with the other components as its `$ref` targets."""
    document = {"components": {"schemas": components()}}
    schema = {"$ref": REF + schema_name, **document}
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate(value: Any, schema_name: str) -> None:
    """422 naming the first wrong field (a JSON Pointer) and why."""
    errors = sorted(_validator(schema_name).iter_errors(value), key=_depth_first)
    if errors:
        field, words = _explained(errors[0])
        raise ApiError("invalid-request", f"{field}: {words}", field=field)


def _depth_first(error: jsonschema.ValidationError) -> tuple[int, str]:
    return (-len(error.absolute_path), str(error.absolute_path))


def _explained(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(the JSON Pointer of the wrong field, what is wrong with it)."""
    path = [str(p) for p in error.absolute_path]
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == "required":
        missing = next((k for k in error.validator_value if k not in instance), "?")
        return "/" + "/".join([*path, missing]), "this field is required"
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        extra = next((k for k in instance if k not in known), "?")
        return "/" + "/".join([*path, extra]), "unknown field"
    return "/" + "/".join(path), error.message
