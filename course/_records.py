"""The one channel from a grading kernel to the judge: result records as plain data.

A graded test cell runs the student's code on the test's inputs and emits, for each case, one
**record**: a ``display_data`` output whose only MIME type is :data:`MIME` and whose value is

    {"v": 1, "nonce": <this grading run's nonce>, "cell": <grade id>, "key": <case key>,
     "value": <encoded result>}                 # the call returned
    {"v": 1, ..., "raised": {"type": <exception class name>, "message": <str>}}   # it raised

Values are encoded by :func:`encode` into tagged JSON so that the judge compares *exact*
types: ``None``, ``bool``, ``int`` and ``str`` stand for themselves (their exact types only:
an ``int`` subclass is not an ``int``); every container is tagged (``{"list": [...]}``,
``{"tuple": [...]}``, ``{"dict": [[k, v], ...]}``, ``{"float": "1.5"}``,
``{"array": {...}}`` for NumPy/JAX arrays); anything else becomes
``{"other": <type name>, "repr": <short repr>}``. Nothing in a record is trusted: the judge
(:mod:`course.grader`) validates the layout with :func:`parse_record` and decides verdicts
itself. The kernel side writes records; the grader side reads them; both use this module.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["MIME", "Array", "MalformedRecord", "Opaque", "Record", "decode", "encode",
           "parse_record", "same"]

MIME = "application/vnd.course.record.v1+json"
MAX_ITEMS = 200_000  # leaves per value; beyond that the value is "too large"
MAX_DEPTH = 24
_REPR = 200


class MalformedRecord(ValueError):
    """An output with the record MIME type whose content is not a valid record."""


@dataclass(frozen=True)
class Opaque:
    """A value of a type the channel does not carry (decoded from ``{"other": ...}``)."""

    type_name: str
    text: str

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


@dataclass(frozen=True)
class Array:
    """A decoded array: its values (NumPy) and whether the kernel had a JAX array."""

    values: Any
    jax: bool

    def __repr__(self) -> str:
        kind = "JAX" if self.jax else "NumPy"
        values = self.values
        return f"{kind} array {values.dtype} {values.shape}: {values.tolist()!r:.200}"


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ITEMS

    def take(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise OverflowError


def _short_repr(x: Any) -> str:
    try:
        text = repr(x)
    except Exception as exc:  # a hostile __repr__ only hurts its own record
        text = f"(repr failed: {type(exc).__name__})"
    return text if len(text) <= _REPR else text[:_REPR] + "..."


def _array(x: Any, budget: _Budget, depth: int) -> dict[str, Any] | None:
    """NumPy/JAX arrays (and NumPy scalars) as dtype, shape and nested Python numbers."""
    module = type(x).__module__ or ""
    if not (module.startswith("numpy") or module.startswith("jax")):
        return None
    import numpy as np

    try:
        arr = np.asarray(x)
    except Exception:
        return None
    if arr.dtype.kind not in "biuf" or arr.size > budget.left:
        return None
    for _ in range(max(arr.size, 1)):
        budget.take()
    data = arr.tolist()
    if arr.dtype.kind == "f":
        data = _floats(data)
    return {"array": {"dtype": str(arr.dtype), "shape": list(arr.shape), "data": data,
                      "jax": module.startswith("jax")}}


def _floats(x: Any) -> Any:
    if isinstance(x, list):
        return [_floats(v) for v in x]
    return repr(float(x))


def encode(value: Any) -> Any:
    """``value`` as tagged JSON (see the module docstring); never raises."""
    try:
        return _encode(value, _Budget(), 0)
    except (OverflowError, RecursionError):
        return {"other": type(value).__name__, "repr": "(too large to record)"}


def _encode(x: Any, budget: _Budget, depth: int) -> Any:
    budget.take()
    if depth > MAX_DEPTH:
        raise OverflowError
    t = type(x)
    if x is None or t is bool or t is int or t is str:
        return x
    if t is float:
        return {"float": repr(x)}
    if t is list or t is tuple:
        return {t.__name__: [_encode(v, budget, depth + 1) for v in x]}
    if t is dict:
        return {"dict": [[_encode(k, budget, depth + 1), _encode(v, budget, depth + 1)]
                         for k, v in x.items()]}
    arr = _array(x, budget, depth)
    if arr is not None:
        return arr
    return {"other": t.__name__, "repr": _short_repr(x)}


def decode(enc: Any) -> Any:
    """The Python value of an encoded one (tuples, dicts, floats back; ``other`` -> Opaque;
    arrays -> NumPy arrays). Raises :class:`MalformedRecord` on anything else."""
    return _decode(enc, 0)


def _decode(x: Any, depth: int) -> Any:
    if depth > MAX_DEPTH + 2:
        raise MalformedRecord("value nested too deeply")
    if x is None or type(x) in (bool, int, str):
        return x
    if type(x) is not dict or len(x) not in (1, 2):
        raise MalformedRecord(f"not an encoded value: {_short_repr(x)}")
    if "list" in x and type(x["list"]) is list:
        return [_decode(v, depth + 1) for v in x["list"]]
    if "tuple" in x and type(x["tuple"]) is list:
        return tuple(_decode(v, depth + 1) for v in x["tuple"])
    if "dict" in x and type(x["dict"]) is list:
        out = {}
        for pair in x["dict"]:
            if type(pair) is not list or len(pair) != 2:
                raise MalformedRecord("a dict entry is not a [key, value] pair")
            key = _decode(pair[0], depth + 1)
            try:
                out[key] = _decode(pair[1], depth + 1)
            except TypeError as exc:  # an unhashable key
                raise MalformedRecord(f"unhashable dict key {_short_repr(key)}") from exc
        return out
    if "float" in x and type(x["float"]) is str:
        try:
            return float(x["float"])
        except ValueError as exc:
            raise MalformedRecord(f"bad float {x['float']!r:.40}") from exc
    if "array" in x and type(x["array"]) is dict:
        import numpy as np

        a = x["array"]
        try:
            data = a["data"]
            arr = np.array(_unfloat(data), dtype=np.dtype(str(a["dtype"])))
            return Array(arr.reshape([int(s) for s in a["shape"]]), a.get("jax") is True)
        except Exception as exc:
            raise MalformedRecord(f"bad array: {type(exc).__name__}") from exc
    if "other" in x and type(x["other"]) is str:
        return Opaque(x["other"][:80], str(x.get("repr", ""))[:_REPR + 3])
    raise MalformedRecord(f"not an encoded value: {_short_repr(x)}")


def _unfloat(x: Any) -> Any:
    if type(x) is list:
        return [_unfloat(v) for v in x]
    return float(x) if type(x) is str else x


def same(a: Any, b: Any) -> bool:
    """Exact equality of two encoded values: same tags, same types, same values (``True`` is
    not ``1``, ``1.0`` is not ``1``); dict entries in any order; NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        if a.keys() != b.keys():
            return False
        if "dict" in a and type(a["dict"]) is list and type(b["dict"]) is list:
            if len(a["dict"]) != len(b["dict"]):
                return False
            key = lambda p: json.dumps(p[0], sort_keys=True)  # noqa: E731
            return all(same(p, q) for p, q in zip(sorted(a["dict"], key=key),
                                                  sorted(b["dict"], key=key), strict=True))
        if "float" in a and type(a["float"]) is str and type(b["float"]) is str:
            try:
                x, y = float(a["float"]), float(b["float"])
            except ValueError:
                return False
            return x == y or (math.isnan(x) and math.isnan(y))
        return all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@dataclass(frozen=True)
class Record:
    """One case's result, as emitted by a graded test cell (see the module docstring)."""

    nonce: str
    cell: str
    key: str
    value: Any = None  # encoded
    raised: tuple[str, str, tuple[str, ...]] | None = None  # (type name, message, its bases)
    context: Any = None  # encoded; only authoring runs send it

    def __repr__(self) -> str:
        what = f"raised {self.raised[0]}" if self.raised else f"value {str(self.value)[:60]}"
        return f"Record({self.cell}/{self.key}: {what})"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": 1, "nonce": self.nonce, "cell": self.cell, "key": self.key}
        if self.raised is not None:
            out["raised"] = {"type": self.raised[0], "message": self.raised[1],
                             "bases": list(self.raised[2])}
        else:
            out["value"] = self.value
        if self.context is not None:
            out["context"] = self.context
        return out


def parse_record(data: Any) -> Record:
    """Validate one record's JSON (from an output's ``data[MIME]``); MalformedRecord if bad."""
    try:  # plain JSON types only (nbformat hands over NotebookNode dicts)
        data = json.loads(data) if type(data) is str else json.loads(json.dumps(data))
    except (TypeError, ValueError, RecursionError) as exc:
        raise MalformedRecord("record is not JSON") from exc
    if type(data) is not dict or data.get("v") != 1:
        raise MalformedRecord("record without version 1")
    for name in ("nonce", "cell", "key"):
        if type(data.get(name)) is not str or len(data[name]) > 200:
            raise MalformedRecord(f"record field {name!r} missing or not a short string")
    raised = data.get("raised")
    if raised is not None:
        bases = raised.get("bases", []) if type(raised) is dict else None
        if (type(raised) is not dict or type(raised.get("type")) is not str
                or type(raised.get("message", "")) is not str or type(bases) is not list
                or any(type(b) is not str for b in bases)):
            raise MalformedRecord("record field 'raised' is malformed")
        return Record(data["nonce"], data["cell"], data["key"],
                      raised=(raised["type"][:100], raised.get("message", "")[:1000],
                              tuple(b[:100] for b in bases[:20])),
                      context=data.get("context"))
    if "value" not in data:
        raise MalformedRecord("record has neither 'value' nor 'raised'")
    decode(data["value"])  # validates the encoding
    return Record(data["nonce"], data["cell"], data["key"], value=data["value"],
                  context=data.get("context"))
