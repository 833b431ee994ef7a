"""The OpenAPI document: request bodies the routes read themselves, and problem responses.

Routes that take a message read the raw bytes (the contracts parse them, with the
county's validation settings and the reason codes of record), so FastAPI cannot
see their body models. :func:`json_body` documents such a body by reference, and
:func:`openapi_document` adds the referenced models to the components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from hub.api.problems import problem_media_types

_REF = "#/components/schemas/{model}"


def json_body(model: type[BaseModel], media_type: str = "application/json") -> dict[str, Any]:
    """``openapi_extra`` documenting a required request body of ``model``.

    Examples go in through :func:`install_openapi`: FastAPI drops ``null`` values from
    ``openapi_extra``, and contract examples need their explicit nulls.
    """
    content: dict[str, Any] = {"schema": {"$ref": _REF.format(model=model.__name__)}}
    return {"requestBody": {"required": True, "content": {media_type: content}}}


def add_examples(document: dict[str, Any], examples: Mapping[str, Mapping[str, Any]]) -> None:
    """Set the request body examples of each operation id in ``examples`` (name → value)."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            named = examples.get(operation.get("operationId", ""))
            if named is None:
                continue
            for content in operation["requestBody"]["content"].values():
                content["examples"] = {name: {"value": value} for name, value in named.items()}


def add_schemas(document: dict[str, Any], models: Sequence[type[BaseModel]]) -> None:
    """Put the JSON Schemas of ``models`` (and the models they use) into the components."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template=_REF, mode="validation")
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas[model.__name__] = schema


def openapi_document(
    app: FastAPI,
    body_models: Sequence[type[BaseModel]],
    examples: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The app's OpenAPI document, with ``body_models``, request ``examples`` (by operation
    id) and problem responses filled in."""
    document = get_openapi(
        title=app.title, version=app.version, summary=app.summary, description=app.description,
        routes=app.routes, tags=app.openapi_tags, servers=app.servers,
    )  # fmt: skip
    add_schemas(document, body_models)
    add_examples(document, examples or {})
    return problem_media_types(document)


def install_openapi(
    app: FastAPI,
    body_models: Sequence[type[BaseModel]],
    examples: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Serve :func:`openapi_document` at ``/openapi.json`` (built once, on first use)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app, body_models, examples)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
