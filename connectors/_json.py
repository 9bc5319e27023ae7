"""Strict JSON for the inbound formats (sources.md): RFC 8259 only, and the field conventions.

- `NaN`, `Infinity` and bad UTF-8 are refused; one UTF-8 byte-order mark before the text is
  allowed; a string holding a lone surrogate (`"\\ud800"`) is refused, since no later UTF-8
  encoding of it could succeed.
- Non-integer numbers are read as `Decimal`, so a number read as text keeps its spelling.
- With `fold=True` (one-stop, land) every object's keys are ASCII-lower-cased, and of a key given
  more than once in any spelling the last value wins.
- `get` treats `null` and `""` as absent.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

__all__ = ["BadJson", "WrongType", "ascii_lower", "code", "get", "parse", "show", "text"]

_BOM = b"\xef\xbb\xbf"
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MAX_INT_DIGITS = 4000  # below Python's int-from-string limit; longer integers stay Decimal


class BadJson(ValueError):
    """The bytes are not RFC 8259 JSON text (DECODE_ERROR)."""


class WrongType(ValueError):
    """A code or id field holds something other than a JSON string (SCHEMA_ERROR)."""


def _refuse_constant(name: str) -> Any:
    raise BadJson(f"{name} is not JSON")


def _int(s: str) -> int | Decimal:
    return int(s) if len(s) <= _MAX_INT_DIGITS else Decimal(s)


# key -> its folded spelling: a format has a few dozen keys, met in every message, and a lookup
# costs a fraction of translate(); the table starts again past _FOLDED_MAX (a feed of random keys)
_FOLDED: dict[str, str] = {}
_FOLDED_MAX = 4096


def _fold(key: str) -> str:
    folded = key.translate(_LOWER)
    if len(_FOLDED) >= _FOLDED_MAX:
        _FOLDED.clear()
    _FOLDED[key] = folded
    return folded


def _folded(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    known = _FOLDED.get
    # the last spelling wins
    return {(f if (f := known(k)) is not None else _fold(k)): v for k, v in pairs}


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) holds a lone surrogate; iterative, any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


# json.loads(doc, **options) makes a decoder of its options at every call: these are made once
_OPTIONS: dict[str, Any] = {
    "parse_float": Decimal,
    "parse_int": _int,
    "parse_constant": _refuse_constant,
}
_FOLDING = json.JSONDecoder(**_OPTIONS, object_pairs_hook=_folded)
_EXACT = json.JSONDecoder(**_OPTIONS, object_pairs_hook=dict)


def parse(raw: bytes, *, fold: bool) -> Any:
    """Parse one message; raise `BadJson` for anything RFC 8259 does not allow."""
    data = raw[3:] if raw.startswith(_BOM) else raw
    try:
        doc = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        if doc.startswith("\ufeff"):  # what json.loads checks before decoding (a second BOM)
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", doc, 0)
        value = (_FOLDING if fold else _EXACT).decode(doc)
    except json.JSONDecodeError as bad:
        raise BadJson(f"not JSON: {bad}") from None
    except RecursionError:
        raise BadJson("not JSON this parser can read: nested too deeply") from None
    if "\\u" in doc and _has_lone_surrogate(value):
        raise BadJson("a string holds a lone surrogate")
    return value


def ascii_lower(value: str) -> str:
    """Lower-case the ASCII letters only (field names match case-insensitively on those)."""
    return value.translate(_LOWER)


def get(obj: dict[str, Any], name: str) -> Any:
    """The field's value, or None when it is absent, null or the empty string."""
    value = obj.get(name)
    return None if value == "" else value


def code(obj: dict[str, Any], name: str, label: str) -> str | None:
    """A code or id: a JSON string, or absent; any other JSON type raises `WrongType`."""
    value = get(obj, name)
    if value is None or isinstance(value, str):
        return value
    raise WrongType(f"{label} is a JSON {_json_type(value)}, not a string")


def text(obj: dict[str, Any], name: str) -> str | None:
    """A descriptive field: a string, or a number or boolean read as its JSON text; else None."""
    value = get(obj, name)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string" if isinstance(value, str) else "null"


def show(value: Any, limit: int = 60) -> str:
    """A short repr of a value for a dead-letter message."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
