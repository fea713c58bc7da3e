"""Check that a computation really ran in parallel over devices.

The check is split in two so that the verdict never comes from the student's kernel:

* :func:`jaxpr_record` (runs in the kernel) traces ``fn`` with ``jax.make_jaxpr`` and
  returns the traced program as plain JSON-able data: every equation, recursively into
  the sub-jaxprs of ``jit``/``shard_map``/``while``/``scan``/``cond``/..., with its
  primitive, input and output variables, the parameters that matter (axis names,
  ``shard_map`` in/out specs and mesh axis sizes, ``xla_pmap`` ``axis_size``/``in_axes``)
  and the shapes and dtypes.  It decides nothing.
* :func:`judge_parallel` (runs in the grader) decides from that record alone, with a
  dataflow analysis; it treats the record as untrusted input (a malformed or forged one
  gives ``ok=False`` with a reason, never an exception).

:func:`verify_parallel` is the kernel-side convenience: run ``fn``, check where its
output lives, and judge its own record.

Rules (all must hold for ``report.ok``):

1. **Output on every local device** (``verify_parallel`` only) - every output array's
   ``sharding.device_set`` contains all local devices.  Skipped, as not applicable, with
   a single local device.
a. **Device map** - a ``shard_map`` (what ``pmap`` lowers to in JAX >= 0.9) or an
   ``xla_pmap`` over ``n_devices`` devices.  Automatic sharding by ``jit`` is not one.
b. **Split input** - the argument ``split_arg`` (the walkers' ``start``) flows into an
   input of that map which is split over its device axis on dim 0 (in_specs / in_names /
   in_axes), and each device gets at most its share (per-device elements * n_devices <=
   the argument's elements): not replicated (``in_axes=None``, ``P()``) nor broadcast.
c. **Work combined inside the map** - inside the mapped body a loop (``while``/``scan``,
   what ``lax.fori_loop`` becomes) consumes that split input - transitively, but not
   through a collective (an ``all_gather`` would hand every device all walkers) - and
   its result flows into a reducing collective (``psum``/``pmean``/``pmax``/
   ``all_gather``/...) over the device axis inside the body.  With ``needs_loop=False``
   the collective only has to consume the split input.
d. **Collective feeds the output** - that collective's result flows, through the map's
   outputs, to the function's output.
e. **No single-device copy of the work** (``needs_loop`` only) - no loop outside the
   device maps computes from ``split_arg`` and feeds the output (the whole walk in a
   single-device ``jit`` next to a token ``pmap`` fails here).

Dataflow follows every equation from its inputs to its outputs, and across sub-jaxprs by
their calling conventions (call-like primitives 1:1, ``while``/``scan`` carries with
their back edges, ``cond`` branches); unknown shapes of a primitive fall back to "every
input reaches every output".  ``vmap``, Python loops and single-device ``jit`` fail (a);
a ``pmap`` summed afterwards with ``.sum()`` fails (c); a ``psum`` over zeros added to a
single-device walk fails (b)/(c)/(e).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jax

RECORD_FORMAT = "course.jaxpr_record"
RECORD_VERSION = 1
MAX_EQNS = 20_000  # equations in one record (all levels together)
MAX_DEPTH = 64  # nesting of sub-jaxprs
MAX_ATOMS = 200_000  # variables and literals the judge reads before giving up
MAX_SPLITS = 16  # device-map inputs fed by the split argument that the judge follows
_MAX_STR = 200
_MAX_SEQ = 256

MAPPED_PRIMITIVES = frozenset({"shard_map", "xla_pmap"})
COLLECTIVE_PRIMITIVES = frozenset(
    {
        "psum",
        "psum2",
        "psum_invariant",
        "pmax",
        "pmin",
        "pmean",
        "all_reduce",
        "all_gather",
        "all_gather_invariant",
        "all_to_all",
        "ppermute",
        "psum_scatter",
        "reduce_scatter",
    }
)
# Collectives that combine the devices' values (ppermute / all_to_all only move them).
REDUCING_COLLECTIVES = COLLECTIVE_PRIMITIVES - {"all_to_all", "ppermute"}
LOOP_PRIMITIVES = frozenset({"while", "scan"})


# --------------------------------------------------------------------------- legacy walk


def _sub_jaxprs(value: Any) -> Iterator[Any]:
    """Yield the raw jaxprs inside an equation parameter (Jaxpr, ClosedJaxpr, tuples)."""
    if hasattr(value, "eqns"):
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        yield value.jaxpr
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _sub_jaxprs(item)


def walk_primitives(jaxpr: Any, inside_map: bool = False) -> Iterator[tuple[str, bool]]:
    """Yield ``(primitive name, inside a shard_map/pmap body)`` for every equation, recursively."""
    raw = jaxpr.jaxpr if hasattr(jaxpr, "jaxpr") and hasattr(jaxpr.jaxpr, "eqns") else jaxpr
    for eqn in raw.eqns:
        name = eqn.primitive.name
        yield name, inside_map
        below = inside_map or name in MAPPED_PRIMITIVES
        for param in eqn.params.values():
            for sub in _sub_jaxprs(param):
                yield from walk_primitives(sub, below)


# --------------------------------------------------------------------------- recording


def _short(text: Any) -> str:
    s = str(text)
    return s if len(s) <= _MAX_STR else s[: _MAX_STR - 3] + "..."


def _name(value: Any) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _short(value)


def _names(value: Any) -> list[str | int]:
    """An axis name or a tuple of them -> a flat list of names (ints stay ints)."""
    if isinstance(value, (tuple, list, frozenset, set)):
        items = sorted(value, key=str) if isinstance(value, (frozenset, set)) else value
        return [_name(v) for v in list(items)[:_MAX_SEQ]]
    return [] if value is None else [_name(value)]


def _spec(spec: Any) -> list[list[str | int]] | None:
    """A PartitionSpec -> one list of mesh axis names per array dim."""
    try:
        entries = list(spec)
    except TypeError:
        return None
    return [_names(e) for e in entries[:_MAX_SEQ]]


def _names_dict(names: Any) -> list[list[str | int]] | None:
    """An old-style shard_map in_names entry ``{dim: (axis, ...)}`` -> per-dim lists."""
    if not isinstance(names, dict):
        return None
    dims = [d for d in names if isinstance(d, int) and 0 <= d < _MAX_SEQ]
    out: list[list[str | int]] = [[] for _ in range(max(dims) + 1 if dims else 0)]
    for d in dims:
        out[d] = _names(names[d])
    return out


def _mesh(mesh: Any) -> dict[str, Any] | None:
    try:
        shape = dict(mesh.shape)
        return {"axis_names": [_short(k) for k in shape],
                "axis_sizes": [int(v) for v in shape.values()]}
    except Exception:
        return None


def _plain(value: Any, depth: int = 0) -> Any:
    """Small plain values (scalars, short tuples of scalars) or ``_SKIP``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return _short(value)
    if hasattr(value, "dtype") and getattr(value, "shape", None) == () and hasattr(value, "item"):
        item = value.item()
        if isinstance(item, (bool, int)):
            return item
    if isinstance(value, (tuple, list)) and depth < 2 and len(value) <= _MAX_SEQ:
        items = [_plain(v, depth + 1) for v in value]
        if all(i is not _SKIP for i in items):
            return items
    return _SKIP


_SKIP = object()
_SPEC_PARAMS = {"in_specs", "out_specs"}
_NAMES_PARAMS = {"in_names", "out_names"}
_AXIS_PARAMS = {"axes", "axis_name"}


def _params(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        key = _short(key)
        if key == "mesh":
            rendered: Any = _mesh(value)
        elif key in _SPEC_PARAMS and isinstance(value, (tuple, list)):
            rendered = [_spec(s) for s in value[:_MAX_SEQ]]
        elif key in _NAMES_PARAMS and isinstance(value, (tuple, list)):
            rendered = [_names_dict(s) for s in value[:_MAX_SEQ]]
        elif key in _AXIS_PARAMS:
            rendered = _names(value)
        elif key in ("in_axes", "out_axes") and isinstance(value, (tuple, list)):
            rendered = [v if isinstance(v, int) and not isinstance(v, bool) else None
                        for v in value[:_MAX_SEQ]]
        elif key == "devices" and isinstance(value, (tuple, list)):
            rendered = len(value)
        else:
            rendered = _plain(value)
        if rendered is not _SKIP and (rendered is not None or value is None):
            out[key] = rendered
    return out


def _aval(atom: Any) -> dict[str, Any]:
    aval = getattr(atom, "aval", None)
    shape = getattr(aval, "shape", None)
    dims: list[int | str] = []
    if isinstance(shape, tuple):
        dims = [int(d) if isinstance(d, int) else _short(d) for d in shape[:_MAX_SEQ]]
    return {"shape": dims, "dtype": _short(getattr(aval, "dtype", type(aval).__name__))}


class _Recorder:
    def __init__(self, max_eqns: int) -> None:
        self.max_eqns = max_eqns
        self.count = 0
        self.next_id = 0
        self.truncated = False

    def _define(self, scope: dict[int, int], keep: list[Any], var: Any) -> dict[str, Any]:
        keep.append(var)  # keep the object alive so its id() stays unique in this scope
        vid = self.next_id
        self.next_id += 1
        if type(var).__name__ != "DropVar":
            scope[id(var)] = vid
        return {"var": vid, **_aval(var)}

    def _use(self, scope: dict[int, int], atom: Any) -> dict[str, Any]:
        if id(atom) in scope:
            return {"var": scope[id(atom)]}
        return {"lit": _short(getattr(atom, "val", atom)), **_aval(atom)}

    def jaxpr(self, jaxpr: Any, depth: int) -> dict[str, Any]:
        scope: dict[int, int] = {}
        keep: list[Any] = []
        rec: dict[str, Any] = {
            "constvars": [self._define(scope, keep, v) for v in jaxpr.constvars],
            "invars": [self._define(scope, keep, v) for v in jaxpr.invars],
            "eqns": [],
        }
        for eqn in jaxpr.eqns:
            if self.count >= self.max_eqns:
                self.truncated = True
                break
            self.count += 1
            ins = [self._use(scope, a) for a in eqn.invars]
            subs: list[dict[str, Any]] = []
            for key, value in eqn.params.items():
                raws = list(_sub_jaxprs(value))
                for index, raw in enumerate(raws):
                    if depth + 1 >= MAX_DEPTH:
                        self.truncated = True
                        continue
                    subs.append({
                        "param": _short(key),
                        "index": index if isinstance(value, (tuple, list)) else None,
                        "jaxpr": self.jaxpr(raw, depth + 1),
                    })
            rec["eqns"].append({
                "prim": _short(eqn.primitive.name),
                "in": ins,
                "out": [self._define(scope, keep, v) for v in eqn.outvars],
                "params": _params(dict(eqn.params)),
                "subs": subs,
            })
        rec["outvars"] = [self._use(scope, a) for a in jaxpr.outvars]
        return rec


def _arg_paths(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[int | str | None, str]]:
    leaves = jax.tree_util.tree_flatten_with_path((args, kwargs))[0]
    out: list[tuple[int | str | None, str]] = []
    for path, _leaf in leaves:
        which: int | str | None = None
        if len(path) >= 2:
            top, key = path[0], path[1]
            if getattr(top, "idx", None) == 0:
                which = getattr(key, "idx", None)
            elif getattr(top, "idx", None) == 1:
                which = _short(getattr(key, "key", key))
        out.append((which, _short(jax.tree_util.keystr(tuple(path[1:])))))
    return out


def jaxpr_record(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Trace ``fn(*args, **kwargs)`` with ``jax.make_jaxpr``; return the program as plain data.

    Only dicts, lists, str, int, bool and None (``json.dumps`` works and round-trips).
    A function that cannot be traced gives a record with ``trace_error`` and no jaxpr.
    Layout::

        {"format": "course.jaxpr_record", "version": 1, "jax_version": str,
         "trace_error": None | str, "truncated": bool, "n_eqns": int, "max_eqns": int,
         "args": [{"var": id, "arg": int | str | None, "path": str}],  # per top invar
         "jaxpr": JAXPR}
        JAXPR = {"constvars": [DEF], "invars": [DEF], "eqns": [EQN], "outvars": [ATOM]}
        DEF   = {"var": id, "shape": [int | str], "dtype": str}
        ATOM  = {"var": id} | {"lit": str, "shape": [...], "dtype": str}
        EQN   = {"prim": str, "in": [ATOM], "out": [DEF], "params": {...},
                 "subs": [{"param": str, "index": int | None, "jaxpr": JAXPR}]}

    Variable ids are unique in the record; every sub-jaxpr occurrence gets its own ids.
    """
    record: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "jax_version": jax.__version__,
        "trace_error": None,
        "truncated": False,
        "n_eqns": 0,
        "max_eqns": MAX_EQNS,
        "args": [],
        "jaxpr": None,
    }
    try:
        closed = jax.make_jaxpr(fn)(*args, **kwargs)
    except Exception as err:
        lines = str(err).splitlines()
        record["trace_error"] = _short(f"{type(err).__name__}: {lines[0] if lines else ''}")
        return record
    recorder = _Recorder(MAX_EQNS)
    top = recorder.jaxpr(closed.jaxpr, 0)
    paths = _arg_paths(args, kwargs)
    if len(paths) != len(top["invars"]):
        paths = [(None, "?")] * len(top["invars"])
    record["args"] = [{"var": d["var"], "arg": which, "path": path}
                      for d, (which, path) in zip(top["invars"], paths, strict=True)]
    record.update(jaxpr=top, truncated=recorder.truncated, n_eqns=recorder.count)
    return record


# --------------------------------------------------------------------------- judging


class _Malformed(Exception):
    """The record is not what jaxpr_record produces."""


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise _Malformed(what)


def _int(value: Any, what: str) -> int:
    _need(isinstance(value, int) and not isinstance(value, bool), f"{what} is not an int")
    return int(value)


def _str(value: Any, what: str) -> str:
    _need(isinstance(value, str), f"{what} is not a str")
    return _short(value)


def _list(value: Any, what: str) -> list[Any]:
    _need(isinstance(value, list), f"{what} is not a list")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    _need(isinstance(value, dict), f"{what} is not a dict")
    return value


@dataclass
class _Eqn:
    index: int
    prim: str
    parent: int  # enclosing equation (whose sub-jaxpr holds this one), -1 at top level
    ins: list[int | None]  # var ids, None for literals
    outs: list[int]
    params: dict[str, Any]
    subs: list[tuple[str, int | None, _Jaxpr]]


@dataclass
class _Jaxpr:
    invars: list[int]
    outvars: list[int | None]


@dataclass
class _Graph:
    eqns: list[_Eqn] = field(default_factory=list)
    succ: dict[int, list[int]] = field(default_factory=dict)  # var/node -> successors
    owner: dict[int, int] = field(default_factory=dict)  # var -> enclosing eqn (-1 top)
    avals: dict[int, tuple[list[Any], str]] = field(default_factory=dict)
    atoms: int = 0
    next_node: int = -1  # virtual nodes (one per equation) have negative ids

    def edge(self, a: int | None, b: int | None) -> None:
        if a is not None and b is not None:
            self.succ.setdefault(a, []).append(b)

    def node(self) -> int:
        self.next_node -= 1
        return self.next_node


def _parse_def(g: _Graph, d: Any, scope: set[int], owner: int, what: str) -> int:
    d = _dict(d, what)
    vid = _int(d.get("var"), f"{what}.var")
    _need(vid >= 0, f"{what}.var is negative")
    _need(vid not in g.owner, f"variable {vid} is defined twice")
    shape = _list(d.get("shape"), f"{what}.shape")
    dtype = d.get("dtype")
    _need(isinstance(dtype, str), f"{what}.dtype is not a str")
    g.atoms += 1
    _need(g.atoms <= MAX_ATOMS, "record too large")
    g.owner[vid] = owner
    g.avals[vid] = (shape, dtype)
    scope.add(vid)
    return vid


def _parse_use(g: _Graph, a: Any, scope: set[int], what: str) -> int | None:
    a = _dict(a, what)
    g.atoms += 1
    _need(g.atoms <= MAX_ATOMS, "record too large")
    if "var" in a:
        vid = _int(a["var"], f"{what}.var")
        _need(vid in scope, f"{what} uses variable {vid} before (or without) defining it")
        return vid
    _need("lit" in a, f"{what} is neither a variable nor a literal")
    return None


def _parse_jaxpr(g: _Graph, j: Any, owner: int, depth: int) -> _Jaxpr:
    _need(depth <= MAX_DEPTH, f"sub-jaxprs nested deeper than {MAX_DEPTH}")
    j = _dict(j, "jaxpr")
    scope: set[int] = set()  # jaxprs are closed: a sub-jaxpr sees only its own variables
    for i, d in enumerate(_list(j.get("constvars", []), "constvars")):
        _parse_def(g, d, scope, owner, f"constvar {i}")
    invars = [_parse_def(g, d, scope, owner, f"invar {i}")
              for i, d in enumerate(_list(j.get("invars"), "invars"))]
    for k, e in enumerate(_list(j.get("eqns"), "eqns")):
        _need(len(g.eqns) < MAX_EQNS, f"more than {MAX_EQNS} equations")
        e = _dict(e, f"eqn {k}")
        prim = _str(e.get("prim"), f"eqn {k}.prim")
        ins = [_parse_use(g, a, scope, f"eqn {k} ({prim}) input {i}")
               for i, a in enumerate(_list(e.get("in"), f"eqn {k}.in"))]
        params = _dict(e.get("params", {}), f"eqn {k}.params")
        eqn = _Eqn(len(g.eqns), prim, owner, ins, [], params, [])
        g.eqns.append(eqn)
        for i, s in enumerate(_list(e.get("subs", []), f"eqn {k}.subs")):
            s = _dict(s, f"eqn {k} sub {i}")
            param = _str(s.get("param"), f"eqn {k} sub {i}.param")
            index = s.get("index")
            index = None if index is None else _int(index, f"eqn {k} sub {i}.index")
            eqn.subs.append((param, index, _parse_jaxpr(g, s.get("jaxpr"), eqn.index, depth + 1)))
        eqn.outs = [_parse_def(g, d, scope, owner, f"eqn {k} ({prim}) output {i}")
                    for i, d in enumerate(_list(e.get("out"), f"eqn {k}.out"))]
        _connect(g, eqn)
    outvars = [_parse_use(g, a, scope, f"outvar {i}")
               for i, a in enumerate(_list(j.get("outvars"), "outvars"))]
    return _Jaxpr(invars, outvars)


def _sub(eqn: _Eqn, param: str) -> list[_Jaxpr]:
    return [j for p, _i, j in eqn.subs if p == param]


def _nonneg(params: dict[str, Any], key: str) -> int | None:
    v = params.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _connect(g: _Graph, eqn: _Eqn) -> None:
    """Add the dataflow edges of one equation (precise where the convention is known)."""
    if not eqn.subs:
        node = g.node()
        for a in eqn.ins:
            g.edge(a, node)
        for b in eqn.outs:
            g.edge(node, b)
        g.owner[node] = eqn.index  # so that the judge finds the equation behind the node
        return
    if _connect_known(g, eqn):
        return
    node = g.node()  # unknown convention: everything reaches everything
    g.owner[node] = eqn.index
    for a in eqn.ins:
        g.edge(a, node)
    for _p, _i, sub in eqn.subs:
        for b in sub.invars:
            g.edge(node, b)
        for a in sub.outvars:
            g.edge(a, node)
    for b in eqn.outs:
        g.edge(node, b)


def _connect_known(g: _Graph, eqn: _Eqn) -> bool:
    ins, outs, p = eqn.ins, eqn.outs, eqn.params
    if eqn.prim == "while":
        cn, bn = _nonneg(p, "cond_nconsts"), _nonneg(p, "body_nconsts")
        conds, bodies = _sub(eqn, "cond_jaxpr"), _sub(eqn, "body_jaxpr")
        if cn is None or bn is None or len(conds) != 1 or len(bodies) != 1 or len(eqn.subs) != 2:
            return False
        cond, body, nc = conds[0], bodies[0], len(outs)
        if (len(ins) != cn + bn + nc or len(body.invars) != bn + nc or len(body.outvars) != nc
                or len(cond.invars) != cn + nc or len(cond.outvars) != 1):
            return False
        for i in range(cn):
            g.edge(ins[i], cond.invars[i])
        for i in range(bn):
            g.edge(ins[cn + i], body.invars[i])
        for i in range(nc):
            for src in (ins[cn + bn + i], body.outvars[i]):  # first and later iterations
                g.edge(src, body.invars[bn + i])
                g.edge(src, cond.invars[cn + i])
                g.edge(src, outs[i])
        for b in outs:  # the predicate decides how often the body runs
            g.edge(cond.outvars[0], b)
        return True
    if eqn.prim == "scan":
        nconsts, ncarry = _nonneg(p, "num_consts"), _nonneg(p, "num_carry")
        bodies = _sub(eqn, "jaxpr")
        if nconsts is None or ncarry is None or len(bodies) != 1 or len(eqn.subs) != 1:
            return False
        body = bodies[0]
        if (len(body.invars) != len(ins) or len(body.outvars) != len(outs)
                or nconsts + ncarry > len(ins) or ncarry > len(outs)):
            return False
        for a, b in zip(ins, body.invars, strict=True):
            g.edge(a, b)
        for a, b in zip(body.outvars, outs, strict=True):
            g.edge(a, b)
        for i in range(ncarry):
            g.edge(body.outvars[i], body.invars[nconsts + i])
            g.edge(ins[nconsts + i], outs[i])  # length 0
        return True
    if eqn.prim == "cond":
        branches = _sub(eqn, "branches")
        if not ins or not branches or len(branches) != len(eqn.subs):
            return False
        if any(len(b.invars) != len(ins) - 1 or len(b.outvars) != len(outs) for b in branches):
            return False
        for br in branches:
            for a, b in zip(ins[1:], br.invars, strict=True):
                g.edge(a, b)
            for a, b in zip(br.outvars, outs, strict=True):
                g.edge(a, b)
        for b in outs:
            g.edge(ins[0], b)
        return True
    # call-like (jit, pjit, closed_call, remat, custom_jvp_call, custom_vjp_call, shard_map,
    # xla_pmap, ...): one sub-jaxpr that takes the inputs and gives the outputs 1:1
    if len(eqn.subs) != 1:
        return False
    sub = eqn.subs[0][2]
    if len(sub.invars) != len(ins) or len(sub.outvars) != len(outs):
        return False
    for a, b in zip(ins, sub.invars, strict=True):
        g.edge(a, b)
    for a, b in zip(sub.outvars, outs, strict=True):
        g.edge(a, b)
    return True


def _reach(g: _Graph, seeds: Iterable[int | None], blocked: Callable[[int], bool] | None = None
           ) -> set[int]:
    seen: set[int] = set()
    stack = [s for s in seeds if s is not None]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if blocked is not None and blocked(v):
            continue
        stack.extend(g.succ.get(v, ()))
    return seen


def _inside(g: _Graph, eqn_index: int, ancestor: int) -> bool:
    """Whether equation ``eqn_index`` lies (at any depth) in a sub-jaxpr of ``ancestor``."""
    cur = g.eqns[eqn_index].parent
    for _ in range(MAX_DEPTH + 2):
        if cur < 0:
            return False
        if cur == ancestor:
            return True
        cur = g.eqns[cur].parent
    return False


def _owned_by(g: _Graph, var: int, eqns: set[int]) -> bool:
    """Whether ``var`` is defined in a sub-jaxpr (at any depth) of one of ``eqns``."""
    cur = g.owner.get(var, -1)
    for _ in range(MAX_DEPTH + 2):
        if cur < 0:
            return False
        if cur in eqns:
            return True
        cur = g.eqns[cur].parent
    return False


def _elements(shape: list[Any]) -> int | None:
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return None
    return math.prod(shape)


@dataclass
class _Split:
    """One input of a device map that is split over the devices on dim 0."""

    map_eqn: int
    position: int
    axes: tuple[str, ...]
    devices: int


def _map_devices(eqn: _Eqn) -> tuple[int | None, list[tuple[int, tuple[str, ...], int]], str]:
    """(devices of the map, [(input position, axes, devices) split on dim 0], kind)."""
    p = eqn.params
    splits: list[tuple[int, tuple[str, ...], int]] = []
    if eqn.prim == "xla_pmap":
        size = _nonneg(p, "global_axis_size") or _nonneg(p, "axis_size")
        raw = p.get("axis_name")
        names = tuple(a for a in raw if isinstance(a, str)) if isinstance(raw, list) else ()
        in_axes = p.get("in_axes")
        if isinstance(in_axes, list) and size and names:
            splits = [(k, names, size) for k, ax in enumerate(in_axes) if ax == 0]
        return size, splits, "xla_pmap"
    mesh = p.get("mesh")
    sizes: dict[str, int] = {}
    if isinstance(mesh, dict):
        names_l, sizes_l = mesh.get("axis_names"), mesh.get("axis_sizes")
        if isinstance(names_l, list) and isinstance(sizes_l, list) and len(names_l) == len(sizes_l):
            sizes = {n: s for n, s in zip(names_l, sizes_l, strict=True)
                     if isinstance(n, str) and isinstance(s, int) and not isinstance(s, bool)
                     and s > 0}
    total = math.prod(sizes.values()) if sizes else None
    specs = p.get("in_specs", p.get("in_names"))
    if isinstance(specs, list):
        for k, spec in enumerate(specs):
            if not (isinstance(spec, list) and spec and isinstance(spec[0], list) and spec[0]):
                continue
            axes = spec[0]
            if all(isinstance(a, str) and a in sizes for a in axes) and len(set(axes)) == len(axes):
                splits.append((k, tuple(axes), math.prod(sizes[a] for a in axes)))
    return total, splits, "shard_map"


def _collective_axes(eqn: _Eqn) -> set[str]:
    out: set[str] = set()
    for key in ("axes", "axis_name"):
        v = eqn.params.get(key)
        if isinstance(v, list):
            out |= {a for a in v if isinstance(a, str)}
    return out


@dataclass(frozen=True)
class ParallelReport:
    """Outcome of :func:`judge_parallel` / :func:`verify_parallel`: one boolean per rule.

    ``output_on_all_devices`` is ``None`` when only one local device exists (or when
    only a record was judged).  ``has_collective``: some collective lies inside a mapped
    body (structural, for information); the verdict uses the dataflow rules
    ``has_device_map`` (a), ``split_input`` (b), ``work_combined`` (c),
    ``reaches_output`` (d) and ``no_work_outside`` (e).
    """

    n_local_devices: int
    output_on_all_devices: bool | None
    has_device_map: bool
    has_collective: bool
    collectives: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default=())
    split_input: bool = False
    work_combined: bool = False
    reaches_output: bool = False
    no_work_outside: bool = False
    record_ok: bool = False

    @property
    def rules(self) -> dict[str, bool]:
        """Rule letter -> whether it holds (``"record"``: the record could be read)."""
        return {
            "record": self.record_ok,
            "a": self.has_device_map,
            "b": self.split_input,
            "c": self.work_combined,
            "d": self.reaches_output,
            "e": self.no_work_outside,
        }

    @property
    def ok(self) -> bool:
        sharded = self.output_on_all_devices is not False
        return sharded and all(self.rules.values())

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        verdict = "PARALLEL" if self.ok else "NOT PARALLEL"
        lines = [f"ParallelReport({verdict}, {self.n_local_devices} local device(s))"]
        lines += [f"  - {reason}" for reason in self.reasons]
        return "\n".join(lines)


def _fail(n: int, why: str) -> ParallelReport:
    return ParallelReport(n, None, False, False, (), (why,), record_ok=False)


def judge_parallel(
    record: Any, *, n_devices: int, split_arg: int = 1, needs_loop: bool = True
) -> ParallelReport:
    """Decide from a :func:`jaxpr_record` alone whether the work runs split over devices.

    Pure and defensive: a malformed record gives ``ok=False`` with a reason.
    """
    n = n_devices if isinstance(n_devices, int) and not isinstance(n_devices, bool) else 0
    try:
        return _judge(record, n, split_arg, bool(needs_loop))
    except _Malformed as err:
        return _fail(n, f"record: malformed ({err}); nothing can be judged")
    except (RecursionError, MemoryError):
        return _fail(n, "record: too deeply nested or too large to judge")
    except Exception as err:  # never let a forged record crash the grader
        return _fail(n, f"record: could not be judged ({type(err).__name__})")


def _judge(record: Any, n: int, split_arg: Any, needs_loop: bool) -> ParallelReport:
    if n < 1:
        return _fail(n, f"n_devices must be a positive int, got {n}")
    if isinstance(split_arg, bool) or not isinstance(split_arg, int):
        return _fail(n, f"split_arg must be an int, got {split_arg!r}")
    rec = _dict(record, "record")
    _need(rec.get("format") == RECORD_FORMAT, "not a course.jaxpr_record")
    _need(rec.get("version") == RECORD_VERSION, f"version is not {RECORD_VERSION}")
    error = rec.get("trace_error")
    if error is not None:
        error = _str(error, "trace_error")
        return _fail(n, f"structure: fn cannot be traced ({error}); it leaves JAX "
                        "(e.g. converts to NumPy), so no device mapping can be seen")
    if rec.get("truncated") is not False:
        return _fail(n, "record: truncated (or no 'truncated' flag), so the dataflow is incomplete")

    g = _Graph()
    top = _parse_jaxpr(g, rec.get("jaxpr"), -1, 0)
    top_vars = set(top.invars)
    split_leaves: list[int] = []
    for i, a in enumerate(_list(rec.get("args"), "args")):
        a = _dict(a, f"args[{i}]")
        vid = _int(a.get("var"), f"args[{i}].var")
        _need(vid in top_vars, f"args[{i}] names variable {vid}, not a top-level input")
        if a.get("arg") == split_arg and not isinstance(a.get("arg"), bool):
            split_leaves.append(vid)
    outputs = {v for v in top.outvars if v is not None}

    reasons: list[str] = []
    in_map: set[int] = set()  # equations inside some device map (parents come first)
    for e in g.eqns:
        if e.parent >= 0 and (e.parent in in_map or g.eqns[e.parent].prim in MAPPED_PRIMITIVES):
            in_map.add(e.index)
    collectives = tuple(sorted({e.prim for e in g.eqns
                                if e.prim in COLLECTIVE_PRIMITIVES and e.index in in_map}))

    # (a) device maps over n devices
    maps = [e for e in g.eqns if e.prim in MAPPED_PRIMITIVES]
    info = {m.index: _map_devices(m) for m in maps}
    good_maps = [m for m in maps if info[m.index][0] == n]
    if good_maps:
        kinds = sorted({info[m.index][2] for m in good_maps})
        reasons.append(f"(a) device map: {'/'.join(kinds)} over {n} devices")
    elif maps:
        sizes = sorted({str(info[m.index][0]) for m in maps})
        reasons.append(f"(a) device map: shard_map/pmap over {', '.join(sizes)} device(s), "
                       f"not over the {n} devices")
    else:
        reasons.append("(a) device map: no shard_map/pmap in the jaxpr (vmap, Python loops and "
                       "plain jit run the whole computation without an explicit per-device "
                       "program)")

    # (b) the split argument reaches a split input of such a map
    tainted = _reach(g, split_leaves)
    share = sum(_elements(g.avals[v][0]) or 0 for v in split_leaves)
    splits: list[_Split] = []
    replicated = oversized = False
    for m in good_maps:
        if len(m.subs) != 1:
            continue
        body = m.subs[0][2]
        split_positions = set()
        for k, axes, devices in info[m.index][1]:
            split_positions.add(k)
            if k >= len(m.ins) or k >= len(body.invars) or m.ins[k] not in tainted:
                continue
            if devices != n:
                continue
            per_device = _elements(g.avals[body.invars[k]][0])
            if per_device is None or per_device * n > share:
                oversized = True
                continue
            splits.append(_Split(m.index, k, axes, devices))
        if any(a in tainted for k, a in enumerate(m.ins) if k not in split_positions):
            replicated = True
    b_ok = bool(splits)
    if not split_leaves:
        reasons.append(f"(b) split input: argument {split_arg} is not among the traced inputs")
    elif b_ok:
        s = splits[0]
        reasons.append(f"(b) split input: argument {split_arg} reaches the mapped body split over "
                       f"{', '.join(s.axes)} on dim 0 ({n} shares)")
    elif oversized:
        reasons.append(f"(b) split input: argument {split_arg} reaches the map on the device axis, "
                       "but every device gets more than its share (broadcast/replicated copies)")
    elif replicated:
        reasons.append(f"(b) split input: argument {split_arg} reaches the map only replicated "
                       "(in_axes=None / P()): every device gets all of it")
    else:
        reasons.append(f"(b) split input: argument {split_arg} reaches no device map input that "
                       "is split over the devices")

    # (c) + (d): loop on the split input -> collective -> output
    def is_collective_node(v: int) -> bool:
        return v < 0 and g.eqns[g.owner[v]].prim in COLLECTIVE_PRIMITIVES

    c_ok = d_ok = False
    saw_loop = saw_collective = False
    used_collectives: set[str] = set()
    if len(splits) > MAX_SPLITS:
        return _fail(n, f"record: more than {MAX_SPLITS} device-map inputs come from argument "
                        f"{split_arg}; too many to judge")
    for s in splits:
        m = g.eqns[s.map_eqn]
        local = _reach(g, [m.subs[0][2].invars[s.position]], is_collective_node)
        inside = [e for e in g.eqns if _inside(g, e.index, m.index)]
        if needs_loop:
            loops = {w.index for w in inside
                     if w.prim in LOOP_PRIMITIVES and any(a in local for a in w.ins)}
            loop_outs = {v for w in loops for v in g.eqns[w].outs}
            seeds = [v for v in local if v >= 0 and (v in loop_outs or _owned_by(g, v, loops))]
            saw_loop |= bool(loops)
        else:
            seeds = [v for v in local if v >= 0]
        work = _reach(g, seeds)
        combining = [c for c in inside if c.prim in REDUCING_COLLECTIVES
                     and set(s.axes) <= _collective_axes(c)]
        saw_collective |= bool(combining)
        fed = [c for c in combining if any(a in work for a in c.ins)]
        if fed:
            c_ok = True
            if _reach(g, [v for c in fed for v in c.outs]) & outputs:
                d_ok = True
                used_collectives |= {c.prim for c in fed}
    what = "a loop (while/scan) on the split input" if needs_loop else "the split input"
    if not b_ok:
        reasons.append("(c) work: not checked (no split input)")
    elif needs_loop and not saw_loop:
        reasons.append("(c) work: no loop (while/scan from lax.fori_loop) inside the mapped body "
                       "works on the split input itself (not through a collective such as "
                       "all_gather) - the work is not done per device")
    elif not saw_collective:
        reasons.append("(c) collective: none inside the mapped body combines over the device "
                       "axis - the per-device results are combined outside the parallel "
                       "program (e.g. .sum() afterwards)")
    elif not c_ok:
        reasons.append(f"(c) work: the collective inside the mapped body does not combine the "
                       f"result of {what}")
    else:
        reasons.append(f"(c) work: {what} inside the mapped body feeds a collective")
    if not c_ok:
        reasons.append("(d) output: not checked (no collective combines the work)")
    elif d_ok:
        reasons.append(f"(d) output: the {'/'.join(sorted(used_collectives))} result flows to "
                       "the function's output")
    else:
        reasons.append("(d) output: the collective's result does not reach the function's output")

    # (e) no loop outside the device maps computes from the split argument into the output
    e_ok = True
    if needs_loop:
        holds_map: set[int] = set()  # loops (and other equations) with a device map inside
        for m in maps:
            cur = m.parent
            while cur >= 0 and cur not in holds_map:
                holds_map.add(cur)
                cur = g.eqns[cur].parent
        outside = [w for w in g.eqns if w.prim in LOOP_PRIMITIVES and w.index not in in_map
                   and w.index not in holds_map and any(a in tainted for a in w.ins)]
        e_ok = not _reach(g, [v for w in outside for v in w.outs if v in tainted]) & outputs
        reasons.append(
            f"(e) outside the maps: no loop computes from argument {split_arg} into the output"
            if e_ok else
            f"(e) outside the maps: a loop ({'/'.join(sorted({w.prim for w in outside}))}) "
            f"outside every device map computes from argument {split_arg} into the output "
            "(the work runs on one device)")
    else:
        reasons.append("(e) outside the maps: not required (needs_loop=False)")

    return ParallelReport(
        n_local_devices=n,
        output_on_all_devices=None,
        has_device_map=bool(good_maps),
        has_collective=bool(collectives),
        collectives=collectives,
        reasons=tuple(reasons),
        split_input=b_ok,
        work_combined=c_ok,
        reaches_output=d_ok,
        no_work_outside=e_ok,
        record_ok=True,
    )


# --------------------------------------------------------------------------- kernel side


def _device_check(out: Any, local: set[Any]) -> tuple[bool | None, str]:
    n = len(local)
    if n == 1:
        return None, "output placement: not applicable, only 1 local device"
    leaves = jax.tree_util.tree_leaves(out)
    if not leaves:
        return False, "output placement: the function returned no arrays"
    for leaf in leaves:
        sharding = getattr(leaf, "sharding", None)
        if sharding is None:
            return False, (
                f"output placement: a {type(leaf).__name__} is not a JAX array on the devices "
                "(combined on the host?)"
            )
        missing = local - set(sharding.device_set)
        if missing:
            return False, (
                f"output placement: an output of shape {getattr(leaf, 'shape', '?')} lives on "
                f"{len(sharding.device_set)} of {n} local devices ({sharding})"
            )
    return True, f"output placement: every output lives on all {n} local devices"


def verify_parallel(
    fn: Callable[..., Any],
    *args: Any,
    split_arg: int = 1,
    needs_loop: bool = True,
    **kwargs: Any,
) -> ParallelReport:
    """Run ``fn(*args, **kwargs)`` once, trace it once, and report whether it ran in parallel.

    ``judge_parallel(jaxpr_record(fn, *args, **kwargs))`` over the local devices, plus
    rule 1 (where the output lives).  ``fn`` should return the device result itself (e.g.
    the ``pmap`` output), not a value already copied to the host.  ``split_arg`` is the
    index of the argument that must be split over the devices (the walkers' ``start``).
    """
    local = set(jax.local_devices())
    out = jax.block_until_ready(fn(*args, **kwargs))
    on_all, why = _device_check(out, local)
    record = jaxpr_record(fn, *args, **kwargs)
    judged = judge_parallel(record, n_devices=len(local), split_arg=split_arg,
                            needs_loop=needs_loop)
    return dataclasses.replace(judged, n_local_devices=len(local), output_on_all_devices=on_all,
                               reasons=(why, *judged.reasons))
