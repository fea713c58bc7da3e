"""Tests for jaxpr_record / judge_parallel / verify_parallel and the reference walk.

The same zoos of real and fake parallel computations run in this process (1 device)
and in a subprocess with 4 CPU devices.  The walk zoo (tests/parallel_zoo.py) is
recorded there and judged here, from the JSON round trip of its records only, the way
the grader judges what a student's kernel sends.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import parallel_zoo
import pytest
from jax import lax

from course.jaxtools import (
    ParallelReport,
    _verify,
    jaxpr_record,
    judge_parallel,
    make_walk_pmap,
    make_walk_shard_map,
    run_with_cpu_devices,
    shard_batch,
    verify_parallel,
    walk_inputs,
    walk_mesh,
    walk_pmap,
    walk_positions,
    walk_primitives,
    walk_reference,
    walk_shard_map,
)


def zoo(n: int) -> dict[str, tuple[Callable[..., Any], tuple[Any, ...]]]:
    """Real and fake ways to compute sum(x**2) over ``n`` device shards."""
    x = np.arange(8 * n, dtype=np.float32)
    mesh = walk_mesh()
    xs = shard_batch(x, n)

    def local(v: jax.Array) -> jax.Array:
        return jnp.sum(v * v)

    def loop_fake(xs: Any) -> jax.Array:
        return sum(local(xs[i]) for i in range(xs.shape[0]))

    key, pos = walk_inputs(64, n, seed=7)
    return {
        "pmap_psum": (jax.pmap(lambda v: lax.psum(local(v), "i"), axis_name="i"), (xs,)),
        "pmap_pmean": (jax.pmap(lambda v: lax.pmean(local(v), "i"), axis_name="i"), (xs,)),
        "vmap_fake": (lambda xs: jnp.sum(jax.vmap(local)(xs)), (xs,)),
        "loop_fake": (loop_fake, (xs,)),
        "jit_fake": (jax.jit(lambda xs: jnp.sum(xs * xs)), (xs,)),
        "pmap_host_sum": (lambda xs: jax.pmap(local)(xs).sum(), (xs,)),
        "pmap_numpy_sum": (lambda xs: np.asarray(jax.pmap(local)(xs)).sum(), (xs,)),
        "walk_pmap": (make_walk_pmap(30), (key, pos)),
        "walk_shard_map": (make_walk_shard_map(30, walk_mesh()), (key, walk_positions(64, mesh))),
    }


ACCEPTED = {"pmap_psum", "pmap_pmean", "walk_pmap", "walk_shard_map"}
#: verify_parallel's options per entry: sum(x**2) splits argument 0 and has no loop; the
#: library's walks split argument 1 (the positions) and loop, as ps4's defaults expect.
OPTIONS = {name: {} if name.startswith("walk_") else {"split_arg": 0, "needs_loop": False}
           for name in ("pmap_psum", "pmap_pmean", "vmap_fake", "loop_fake", "jit_fake",
                        "pmap_host_sum", "pmap_numpy_sum", "walk_pmap", "walk_shard_map")}
STRUCTURE = {  # name -> (has_device_map, has_collective)
    "pmap_psum": (True, True),
    "pmap_pmean": (True, True),
    "vmap_fake": (False, False),
    "loop_fake": (False, False),
    "jit_fake": (False, False),
    "pmap_host_sum": (True, False),
    "pmap_numpy_sum": (False, False),
    "walk_pmap": (True, True),
    "walk_shard_map": (True, True),
}


def summarize(n: int) -> dict[str, list[Any]]:
    out = {}
    for name, (fn, args) in zoo(n).items():
        r = verify_parallel(fn, *args, **OPTIONS[name])
        out[name] = [r.ok, r.output_on_all_devices, r.has_device_map, r.has_collective]
    return out


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_in_process_structure(name: str) -> None:
    n = jax.local_device_count()  # 1 unless pytest was started with JAX_NUM_CPU_DEVICES
    fn, args = zoo(n)[name]
    report = verify_parallel(fn, *args, **OPTIONS[name])
    assert isinstance(report, ParallelReport)
    assert (report.has_device_map, report.has_collective) == STRUCTURE[name]
    assert report.ok == (name in ACCEPTED) == bool(report)
    text = repr(report)
    assert ("NOT PARALLEL" in text) != (name in ACCEPTED)
    if n == 1:
        assert report.output_on_all_devices is None  # not applicable on one device
        assert "not applicable" in text


def test_reasons_explain_the_failure() -> None:
    for name, needle in (("pmap_host_sum", "outside the parallel program"),
                         ("pmap_numpy_sum", "cannot be traced"),
                         ("vmap_fake", "no shard_map/pmap")):
        fn, args = zoo(1)[name]
        assert needle in repr(verify_parallel(fn, *args, **OPTIONS[name])), name


def test_collective_found_inside_control_flow() -> None:
    def body(v: jax.Array) -> jax.Array:
        def step(i: jax.Array, acc: jax.Array) -> jax.Array:
            return lax.cond(i > 0, lambda a: lax.psum(a, "i"), lambda a: a, acc)

        return lax.fori_loop(0, 3, step, v)

    fn = jax.jit(lambda xs: jax.pmap(body, axis_name="i")(xs) + 1)
    report = verify_parallel(fn, np.ones((1, 2), np.float32), split_arg=0)
    assert report.ok and report.collectives == ("psum",)


def test_walk_primitives_recurses_into_scan_and_cond() -> None:
    def f(x: jax.Array) -> jax.Array:
        carry, _ = lax.scan(lambda c, _: (lax.cond(c.sum() > 0, jnp.sin, jnp.cos, c), None),
                            x, None, length=2)
        return carry

    names = {name for name, _ in walk_primitives(jax.make_jaxpr(jax.jit(f))(jnp.ones(3)))}
    assert {"scan", "cond", "sin", "cos"} <= names


SUBPROCESS = """
import json, sys
sys.path.insert(0, {tests!r})
from test_jax_verify import summarize
import parallel_zoo
from course.jaxtools import verify_parallel, walk_pmap, walk_shard_map
walks = {{f"{{kind}}_{{n}}": f(64, 30, seed=7, n_devices=n)
         for kind, f in (("pmap", walk_pmap), ("shard_map", walk_shard_map)) for n in (2, 4)}}
verified = {{name: [r.ok, r.output_on_all_devices]
            for name, (fn, args, _) in parallel_zoo.zoo(4).items()
            for r in [verify_parallel(fn, *args)]}}
print(json.dumps({{"zoo": summarize(4), "walks": walks, "records": parallel_zoo.records(4),
                  "verified": verified}}))
"""


@pytest.fixture(scope="module")
def four_devices() -> dict[str, Any]:
    import pathlib

    code = SUBPROCESS.format(tests=str(pathlib.Path(__file__).parent))
    return json.loads(run_with_cpu_devices(code, n_devices=4, timeout=120))


def test_four_devices_zoo(four_devices: dict[str, Any]) -> None:
    for name, (ok, _on_all, has_map, has_coll) in four_devices["zoo"].items():
        assert ok == (name in ACCEPTED), name
        assert (has_map, has_coll) == STRUCTURE[name], name
    zoo4 = four_devices["zoo"]
    for name in ("vmap_fake", "loop_fake", "jit_fake", "pmap_numpy_sum"):
        assert zoo4[name][1] is False, name  # result sits on one device (or the host)
    for name in ACCEPTED:
        assert zoo4[name][1] is True, name


def test_walk_same_value_on_1_2_4_devices(four_devices: dict[str, Any]) -> None:
    reference = walk_reference(64, 30, seed=7)
    assert len(four_devices["walks"]) == 4  # pmap and shard_map on 2 and 4 devices
    assert set(four_devices["walks"].values()) == {reference}
    assert walk_pmap(64, 30, seed=7) == walk_shard_map(64, 30, seed=7) == reference  # 1 device


def test_walk_statistics_and_seeds() -> None:
    msd = walk_reference(512, 64, seed=0)
    assert 48 < msd < 80  # E[msd] = steps = 64, std ~ 4
    assert walk_reference(512, 64, seed=1) != msd
    assert walk_reference(8, 0) == 0.0


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: walk_inputs(10, 4), "10 walkers over 4 devices"),
        (lambda: walk_reference(0, 5), "walkers=0"),
        (lambda: walk_reference(4, -1), "-1"),
        (lambda: walk_reference(2**20, 2**20), "overflow"),
        (lambda: walk_pmap(4, 1, n_devices=99), "n_devices=99"),
    ],
)
def test_walk_rejects_bad_sizes(call: Callable[[], object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        call()


# --------------------------------------------------------------------------- the walk zoo


def roundtrip(record: dict[str, Any]) -> dict[str, Any]:
    """What the grader gets: the record after JSON; it must be unchanged by the trip."""
    copied = json.loads(json.dumps(record))
    assert copied == record
    return copied


def assert_plain(value: Any, depth: int = 0) -> None:
    assert depth < 200
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            assert_plain(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item, depth + 1)
    else:
        assert value is None or isinstance(value, (str, int, bool)), type(value)


def defined_ids(jaxpr: dict[str, Any]) -> list[int]:
    ids = [d["var"] for d in jaxpr["constvars"] + jaxpr["invars"]]
    for eqn in jaxpr["eqns"]:
        ids += [d["var"] for d in eqn["out"]]
        for sub in eqn["subs"]:
            ids += defined_ids(sub["jaxpr"])
    return ids


@pytest.fixture(scope="module")
def one_device_records() -> dict[str, dict[str, Any]]:
    return parallel_zoo.records(jax.local_device_count())


def test_records_are_plain_data(one_device_records: dict[str, dict[str, Any]]) -> None:
    for name, record in one_device_records.items():
        assert_plain(record)
        roundtrip(record)
        if record["trace_error"] is None:
            ids = defined_ids(record["jaxpr"])
            assert len(ids) == len(set(ids)), name  # every variable defined once
            assert not record["truncated"] and 0 < record["n_eqns"] <= record["max_eqns"]
            assert [a["arg"] for a in record["args"]] == [0, 1], name  # key, start


def test_record_layout_of_the_solution(one_device_records: dict[str, dict[str, Any]]) -> None:
    record = one_device_records["solution_pmap"]
    (jit,) = [e for e in record["jaxpr"]["eqns"] if e["prim"] == "jit"]
    (smap,) = jit["subs"][0]["jaxpr"]["eqns"]
    assert smap["prim"] == "shard_map"
    assert smap["params"]["mesh"] == {"axis_names": ["devices"], "axis_sizes": [1]}
    assert smap["params"]["in_specs"] == [[], [["devices"]]]  # key replicated, start split
    body = smap["subs"][0]["jaxpr"]
    prims = {e["prim"] for e in body["eqns"]}
    assert {"scan", "psum"} <= prims
    psum = next(e for e in body["eqns"] if e["prim"] == "psum")
    assert psum["params"]["axes"] == ["devices"]
    literal = next(a for e in body["eqns"] for a in e["in"] if "lit" in a)
    assert set(literal) == {"lit", "shape", "dtype"}


@pytest.mark.parametrize("name", sorted(parallel_zoo.expected(1)))
def test_walk_zoo_one_device(name: str, one_device_records: dict[str, dict[str, Any]]) -> None:
    n = jax.local_device_count()
    report = judge_parallel(roundtrip(one_device_records[name]), n_devices=n)
    assert report.rules == parallel_zoo.expected(n)[name], repr(report)
    accepted = parallel_zoo.ACCEPTED | ({"broadcast_start"} if n == 1 else set())
    assert report.ok == (name in accepted) == bool(report)
    assert len(report.reasons) == (1 if name == "host_numpy_sum" else 5)  # one line a rule


def test_walk_zoo_four_devices_judged_here(four_devices: dict[str, Any]) -> None:
    """Recorded in a 4-device process, judged in this one from the JSON alone."""
    expected = parallel_zoo.expected(4)
    assert set(four_devices["records"]) == set(expected)
    for name, record in four_devices["records"].items():
        report = judge_parallel(roundtrip(record), n_devices=4)
        assert report.rules == expected[name], (name, repr(report))
        assert report.ok == (name in parallel_zoo.ACCEPTED), name
        if name in parallel_zoo.ACCEPTED:  # the device count is part of the verdict
            assert not judge_parallel(record, n_devices=2).has_device_map
            assert not judge_parallel(record, n_devices=2).ok


def test_walk_zoo_verify_parallel_four_devices(four_devices: dict[str, Any]) -> None:
    for name, (ok, _on_all) in four_devices["verified"].items():
        assert ok == (name in parallel_zoo.ACCEPTED), name
    for name in parallel_zoo.ACCEPTED:
        assert four_devices["verified"][name][1] is True, name


def test_reasons_name_the_broken_rule(four_devices: dict[str, Any]) -> None:
    records = four_devices["records"]
    needles = {
        "jit_walk_plus_token_pmap": "reaches no device map input that is split",
        "replicated_start": "only replicated",
        "broadcast_start": "more than its share",
        "all_gather_then_walk": "not through a collective",
        "pmap_host_sum": "outside the parallel program",
        "psum_of_something_else": "does not combine the result",
        "token_loop_in_map_walk_outside": "outside every device map",
        "vmap_fake": "no shard_map/pmap",
        "host_numpy_sum": "cannot be traced",
    }
    for name, needle in needles.items():
        text = repr(judge_parallel(records[name], n_devices=4))
        assert needle in text and "NOT PARALLEL" in text, (name, text)


def test_verify_parallel_is_the_judge_of_its_own_record() -> None:
    for name, (fn, args, rules) in parallel_zoo.zoo(jax.local_device_count()).items():
        if name not in ("solution_pmap", "jit_walk_plus_token_pmap", "pmap_host_sum"):
            continue
        report = verify_parallel(fn, *args)
        assert report.rules == rules, name
        assert report.reasons[0].startswith("output placement")


def test_truncated_record_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_verify, "MAX_EQNS", 5)
    fn, args, _ = parallel_zoo.zoo(1)["solution_pmap"]
    record = jaxpr_record(fn, *args)
    assert record["truncated"] and record["n_eqns"] == 5
    report = judge_parallel(roundtrip(record), n_devices=1)
    assert not report.ok and "truncated" in repr(report)


# --------------------------------------------------------------------------- forged records


def _good() -> dict[str, Any]:
    fn, args, _ = parallel_zoo.zoo(1)["solution_pmap"]
    return jaxpr_record(fn, *args)


def _nested(depth: int) -> dict[str, Any]:
    jaxpr: dict[str, Any] = {"constvars": [], "invars": [], "eqns": [], "outvars": []}
    for _ in range(depth):
        eqn = {"prim": "jit", "in": [], "out": [], "params": {}, "subs": [
            {"param": "jaxpr", "index": None, "jaxpr": jaxpr}]}
        jaxpr = {"constvars": [], "invars": [], "eqns": [eqn], "outvars": []}
    return jaxpr


def _forgeries() -> dict[str, Any]:
    good = _good()
    head = {k: v for k, v in good.items() if k != "jaxpr"}
    var = {"var": 0, "shape": [], "dtype": "int32"}

    def with_jaxpr(jaxpr: Any, **extra: Any) -> dict[str, Any]:
        return {**head, "args": [], "jaxpr": jaxpr, **extra}

    def one_eqn(eqn: Any, invars: list[Any] | None = None) -> dict[str, Any]:
        return with_jaxpr({"constvars": [], "invars": invars or [], "eqns": [eqn],
                           "outvars": []})

    cyclic: dict[str, Any] = {"constvars": [], "invars": [], "outvars": []}
    cyclic["eqns"] = [{"prim": "jit", "in": [], "out": [], "params": {},
                       "subs": [{"param": "jaxpr", "index": None, "jaxpr": cyclic}]}]
    looped = dict(head)
    looped["jaxpr"] = looped  # the record contains itself
    many = [{"prim": "add", "in": [], "out": [], "params": {}, "subs": []}] * 20_001
    return {
        "none": None,
        "int": 42,
        "list": [good],
        "empty": {},
        "no format": {k: v for k, v in good.items() if k != "format"},
        "wrong version": {**good, "version": 99},
        "truncated missing": {k: v for k, v in good.items() if k != "truncated"},
        "trace error not str": {**good, "trace_error": {"x": 1}},
        "no jaxpr": {**good, "jaxpr": None},
        "eqns not a list": with_jaxpr({"constvars": [], "invars": [], "eqns": "x",
                                       "outvars": []}),
        "var id a str": with_jaxpr({"constvars": [], "invars": [{**var, "var": "0"}],
                                    "eqns": [], "outvars": []}),
        "var id a bool": with_jaxpr({"constvars": [], "invars": [{**var, "var": True}],
                                     "eqns": [], "outvars": []}),
        "defined twice": with_jaxpr({"constvars": [], "invars": [var, var], "eqns": [],
                                     "outvars": []}),
        "self cycle": one_eqn({"prim": "add", "in": [{"var": 7}],
                               "out": [{**var, "var": 7}], "params": {}, "subs": []}),
        "use before def": with_jaxpr({"constvars": [], "invars": [], "outvars": [], "eqns": [
            {"prim": "neg", "in": [{"var": 2}], "out": [{**var, "var": 1}], "params": {},
             "subs": []},
            {"prim": "neg", "in": [{"var": 1}], "out": [{**var, "var": 2}], "params": {},
             "subs": []}]}),
        "outer var used inside": one_eqn(
            {"prim": "jit", "in": [], "out": [], "params": {}, "subs": [
                {"param": "jaxpr", "index": None, "jaxpr": {
                    "constvars": [], "invars": [], "outvars": [{"var": 0}], "eqns": []}}]},
            invars=[var]),
        "args point nowhere": {**good, "args": [{"var": 10**9, "arg": 1, "path": "[1]"}]},
        "args not dicts": {**good, "args": [1, 2]},
        "prim not str": one_eqn({"prim": None, "in": [], "out": [], "params": {}, "subs": []}),
        "params garbage": one_eqn({"prim": "shard_map", "in": [], "out": [],
                                   "params": {"mesh": "x", "in_specs": [[[1, None]], 5]},
                                   "subs": [{"param": "jaxpr", "index": "a", "jaxpr": {}}]}),
        "huge nesting": with_jaxpr(_nested(10_000)),
        "cycle by reference": with_jaxpr(cyclic),
        "record contains itself": looped,
        "too many eqns": with_jaxpr({"constvars": [], "invars": [], "eqns": many,
                                     "outvars": []}),
        "huge numbers": {**good, "version": 10**400},
    }


@pytest.mark.parametrize("name", sorted(_forgeries()))
def test_forged_records_are_refused_not_crashed(name: str) -> None:
    report = judge_parallel(_forgeries()[name], n_devices=1)
    assert isinstance(report, ParallelReport)
    assert not report.ok and not report.record_ok
    assert report.reasons and all(isinstance(r, str) and r for r in report.reasons)
    assert "record" in report.reasons[0] or "cannot be traced" in report.reasons[0]


def _shard_map_params(record: dict[str, Any]) -> dict[str, Any]:
    (jit,) = [e for e in record["jaxpr"]["eqns"] if e["prim"] == "jit"]
    params: dict[str, Any] = jit["subs"][0]["jaxpr"]["eqns"][0]["params"]
    return params


@pytest.mark.parametrize("params", [
    {"mesh": "x"},
    {"mesh": {"axis_names": ["devices"], "axis_sizes": ["1"]}},
    {"mesh": {"axis_names": ["devices"], "axis_sizes": [1, 2]}},
    {"in_specs": [[["devices", 5]], "x"]},
    {"in_specs": [[], [["nowhere"]]]},
    {"in_specs": [[], [[], ["devices"]]]},  # split on dim 1, not on the device axis dim 0
    {"in_specs": None, "in_names": None},
])
def test_garbage_map_params_give_no_split(params: dict[str, Any]) -> None:
    forged = _good()
    _shard_map_params(forged).update(params)
    report = judge_parallel(forged, n_devices=1)
    assert report.record_ok and not report.ok and not report.split_input


def test_bad_judge_arguments_are_refused() -> None:
    good = _good()
    assert judge_parallel(good, n_devices=1).ok
    for kwargs in ({"n_devices": 0}, {"n_devices": True}, {"n_devices": 1, "split_arg": "1"},
                   {"n_devices": 1, "split_arg": 5}):
        assert not judge_parallel(good, **kwargs).ok, kwargs


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*path, i))
    return out


def test_mutated_records_never_raise() -> None:
    """Random single edits of a real record: any verdict, but always a report."""
    good = _good()
    paths = [p for p in _paths(good) if p]
    rng = random.Random(4)
    garbage = [None, -1, 0, 3, True, "x", "", [], {}, [None], {"var": 0}, 10**30, 1.5]
    for _ in range(400):
        forged = copy.deepcopy(good)
        path = rng.choice(paths)
        parent = forged
        for key in path[:-1]:
            parent = parent[key]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = rng.choice(garbage)
        report = judge_parallel(forged, n_devices=1)
        assert isinstance(report, ParallelReport) and report.reasons
