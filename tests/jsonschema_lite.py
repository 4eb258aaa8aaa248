"""A JSON Schema (2020-12) checker for the keywords Veilleur's generated schemas use.

`jsonschema` is not installed and no dependency is added for tests: this covers exactly the
keywords listed below and refuses a schema with any other, so a keyword the generator starts
to emit cannot be silently ignored by the tests that rely on this checker.
"""

from __future__ import annotations

import re
from typing import Any

ASSERTIONS = {"type", "enum", "const", "pattern", "minLength", "maxLength", "properties",
              "required", "additionalProperties", "items", "maxItems", "minItems", "anyOf",
              "oneOf", "allOf", "$ref"}
ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default", "examples",
               "discriminator", "deprecated"}


class UnknownKeywordError(ValueError):
    pass


def _is(kind: str, value: Any) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":  # JSON Schema: any number with a zero fractional part
        return not isinstance(value, bool) and (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer()))
    if kind == "number":
        return not isinstance(value, bool) and isinstance(value, int | float)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise UnknownKeywordError(f"type {kind!r}")


def _equal(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, 1 is 1.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def errors(schema: dict[str, Any], value: Any, root: dict[str, Any] | None = None,
           path: str = "$") -> list[str]:
    """Every way `value` fails `schema` (empty: it conforms)."""
    root = root if root is not None else schema
    unknown = set(schema) - ASSERTIONS - ANNOTATIONS
    if unknown:
        raise UnknownKeywordError(", ".join(sorted(unknown)))
    out: list[str] = []
    if "$ref" in schema:
        ref = schema["$ref"]
        node: Any = root
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        out += errors(node, value, root, path)
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(k, value) for k in kinds):
            return [*out, f"{path}: not {kinds}"]
    if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
        out.append(f"{path}: not in {schema['enum']}")
    if "const" in schema and not _equal(value, schema["const"]):
        out.append(f"{path}: not {schema['const']!r}")
    if isinstance(value, str):
        # ECMA-262 `$` (no multiline) is the end of the text only; Python's also matches
        # before a final newline.
        pattern = schema.get("pattern")
        if pattern is not None and re.search(pattern.replace("$", r"\Z"), value) is None:
            out.append(f"{path}: does not match the pattern")
        if len(value) < schema.get("minLength", 0):
            out.append(f"{path}: too short")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{path}: too long")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(f"{path}: too few items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(f"{path}: too many items")
        if "items" in schema:
            for i, item in enumerate(value):
                out += errors(schema["items"], item, root, f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in props:
                out += errors(props[k], v, root, f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}: unexpected {k}")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(schema["additionalProperties"], v, root, f"{path}.{k}")
    if "anyOf" in schema and all(errors(s, value, root, path) for s in schema["anyOf"]):
        out.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        matching = sum(not errors(s, value, root, path) for s in schema["oneOf"])
        if matching != 1:
            out.append(f"{path}: matches {matching} of oneOf, not 1")
    for s in schema.get("allOf", []):
        out += errors(s, value, root, path)
    return out


def conforms(schema: dict[str, Any], value: Any) -> bool:
    return not errors(schema, value)
