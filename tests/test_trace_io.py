"""ShiViz/GoVector import and export, and every input format refusing bad input clearly.

All logs here are written for these tests (no public log is copied)."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import (
    GOVECTOR_REGEX,
    HappensBefore,
    Trace,
    TraceError,
    check_clock_condition,
    check_total_order,
    concurrent,
    happens_before,
    lamport_timestamps,
    random_trace,
    space_time_diagram,
    vector_timestamps,
)
from course._shiviz import TOKENS_MARK
from tests.strategies import traces

FAST = settings(max_examples=40, deadline=None)


def generic_log(t: Trace, seed: int, *, govector: bool = False, by_host: bool = True) -> str:
    """A log of ``t`` as a real system writes one: free event texts (repeated, blank,
    one-word), GoVector's or ShiViz's layout, hosts' logs concatenated one after another."""
    vts = vector_timestamps(t)
    rng = random.Random(seed)
    words = ["Done", "", "send it", "recv it", "x!y", "Initialization Complete"]
    blocks = []
    order = [e for p in t.processes for e in t.events_of(p)] if by_host else t.causal_order()
    for e in order:
        vc = {p: c for p, c in zip(t.processes, vts[e.name], strict=True) if c}
        host = f"{e.process} {json.dumps(vc)}"
        text = rng.choice(words)
        blocks.append(f"{host}\n{text}" if govector else f"{text}\n{host}")
    return "\n".join(blocks) + "\n"


def leq(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a != b and all(x <= y for x, y in zip(a, b, strict=True))


# ----- the examples ----------------------------------------------------------------
def test_a_two_host_log_recovers_its_message():
    t = Trace.from_shiviz('send it\nA {"A": 1}\nrecv it\nB {"A": 1, "B": 1}\n')
    assert happens_before(t, "A.1", "B.1")
    assert t["B.1"].sources == ("A.1",) and t["B.1"].text == "recv it"
    assert vector_timestamps(t) == {"A.1": (1, 0), "B.1": (1, 1)}


def test_govector_layout_repeated_and_blank_texts():
    log = ('alice {"alice":1}\nInitialization Complete\nalice {"alice":2}\nDone\n'
           'bob {"bob":1}\nInitialization Complete\nbob {"alice":2, "bob":2}\n\n'
           'bob {"alice":2, "bob":3}\nDone\n')
    t = Trace.from_shiviz(log)
    assert [e.name for e in t] == ["alice.1", "alice.2", "bob.1", "bob.2", "bob.3"]
    assert [e.text for e in t] == ["Initialization Complete", "Done",
                                   "Initialization Complete", "", "Done"]
    assert t["bob.2"].sources == ("alice.2",)
    assert Trace.from_shiviz(log, regex=GOVECTOR_REGEX) == t


def test_receive_from_several_hosts_and_transitive_edges_are_dropped():
    log = ('a\nA {"A":1}\nb\nB {"B":1}\nc\nC {"A":1,"B":1,"C":1}\n'
           'd\nD {"A":1,"B":1,"C":1,"D":1}\n')
    t = Trace.from_shiviz(log)
    assert set(t["C.1"].sources) == {"A.1", "B.1"}
    assert t["D.1"].sources == ("C.1",)  # A.1 and B.1 come through C.1
    assert happens_before(t, "A.1", "D.1") and concurrent(t, "A.1", "B.1")


def test_regex_with_extra_fields_name_group_and_header_and_delimiter():
    regex = r"(?<time>\d+) (?<host>\w+) (?<clock>{.*}) (?<name>\w+) (?<event>.*)"
    log = (f"{regex}\n^--- (?<trace>\\w+) ---$\n"
           "--- first ---\n"
           '1 A {"A":1} hello start here\n2 B {"A":1,"B":1} world got it\n'
           "--- second ---\n"
           '3 C {"C":1} only lonely\n')
    execs = Trace.from_shiviz_executions(log)
    assert [label for label, _ in execs] == ["first", "second"]
    first = execs[0][1]
    assert first["world"].sources == ("hello",)
    assert first["hello"].attributes == {"time": "1"} and first["hello"].text == "start here"
    with pytest.raises(TraceError, match="holds 2 executions"):
        Trace.from_shiviz(log)


# ----- the invariant ---------------------------------------------------------------------
@FAST
@given(traces(max_processes=5, max_events=40), st.integers(0, 2**16), st.booleans(),
       st.booleans())
def test_happens_before_of_an_imported_log_is_the_order_of_its_clocks(t, seed, gv, by_host):
    log = generic_log(t, seed, govector=gv, by_host=by_host)
    imported = Trace.from_shiviz(log)
    # The log's own clocks, read straight from the text, in the imported host order.
    hosts = imported.processes
    clocks = {}
    for ln in log.splitlines():
        h, _, c = ln.partition(" ")
        if h in hosts and c.startswith("{"):
            vc = json.loads(c)
            clocks[f"{h}.{vc[h]}"] = tuple(vc.get(p, 0) for p in hosts)
    assert set(clocks) == {e.name for e in imported}
    hb = HappensBefore(imported)
    vts = vector_timestamps(imported)
    for a, b in itertools.product(clocks, repeat=2):
        assert hb.happens_before(a, b) == leq(clocks[a], clocks[b]), (a, b)
    assert vts == clocks
    assert check_clock_condition(imported, lamport_timestamps(imported)) == []
    # and the imported execution is the original one, up to names
    assert len(imported) == len(t)


@FAST
@given(traces(max_processes=4, max_events=25), st.integers(0, 2**16))
def test_imported_traces_round_trip_through_every_format(t, seed):
    imported = Trace.from_shiviz(generic_log(t, seed))
    assert Trace.from_json(imported.to_json()) == imported
    assert Trace.from_shiviz(imported.to_shiviz(), processes=imported.processes) == imported
    text_back = Trace.parse(imported.to_text())
    assert [e.token for e in text_back] == [e.token for e in imported]
    assert vector_timestamps(text_back) == vector_timestamps(imported)


def test_an_imported_trace_draws():
    import matplotlib

    matplotlib.use("Agg")
    t = Trace.from_shiviz(generic_log(random_trace(3, 12, seed=3), 1))
    space_time_diagram(t, timestamps="vector", highlight=t.events[-1].name)


# ----- ShiViz validation -----------------------------------------------------------------
@pytest.mark.parametrize(("log", "needle"), [
    ('a\nA {"A": true}\n', r"Line 2 \(host 'A'\): clock entry 'A': True is not"),
    ('a\nA {"A": 1.5}\n', "1.5 is not a non-negative integer"),
    ('a\nA {"A": NaN}\n', "NaN is not a clock value"),
    ('a\nA {"A": null}\n', "None is not a non-negative integer"),
    ('a\nA {"A": -1}\n', "-1 is not a non-negative integer"),
    ('a\nA {"A": 1, "A": 2}\n', "'A' appears twice"),
    ('a\nA {"A": 1} x {}\n', "the clock is not JSON"),
    ('a\nA {"A": 1,}\n', "the clock is not JSON"),
    ('a\nA {"A": 2}\n', "own clock does not increase by exactly 1"),
    ('a\nA {"A": 1}\nb\nA {"A": 3}\n', r"Line 4 \(host 'A'\).*goes from 1 \(line 2\) to 3"),
    ('a\nA {"A": 1, "Z": 1}\n', "unknown host 'Z'"),
    ('a\nA {"A": 1, "B": 2}\nb\nB {"B": 1}\n', "no event has that clock"),
    ('a\nB {"B": 1}\nb\nA {"A": 1, "B": 1}\nc\nA {"A": 2}\n', "goes backwards"),
    ('a\nA {"A": 1, "B": 1}\nb\nB {"A": 1, "B": 1}\n', "impermissible clock"),
    ('a\nA {"B": 1}\nb\nB {"B": 1}\n', "no \\(positive\\) entry for its own host"),
    ('a\nA b {"A": 1}\n', "text not matched"),
    ('a\nA:1 {"A:1": 1}\n', "bad host name 'A:1'"),
    ("junk\n", "text not matched"),
])
def test_bad_logs_get_clear_errors(log, needle):
    with pytest.raises(TraceError, match=needle):
        Trace.from_shiviz(log)


def test_bad_regexes_get_clear_errors():
    with pytest.raises(TraceError, match="lacks the named groups"):
        Trace.from_shiviz("x", regex=r"(?<event>.*)")
    with pytest.raises(TraceError, match="does not compile"):
        Trace.from_shiviz("x", regex=r"(?<event>")
    with pytest.raises(TypeError):
        Trace.from_shiviz(b"x")  # type: ignore[arg-type]


def test_export_states_the_default_regex_and_reimports():
    t = Trace.parse("A: a b!m\nB: c?m d")
    log = t.to_shiviz()
    assert log.splitlines()[:2] == [r"(?<event>.*)\n(?<host>\S*) (?<clock>{.*})", TOKENS_MARK]
    assert Trace.from_shiviz(log) == t
    assert Trace.from_shiviz(log, names="generate")["B.1"].sources == ("A.2",)


# ----- hostile input, every entry point ----------------------------------------------------
_ALLOWED = (TraceError, TypeError)

junk_text = st.text(alphabet=st.sampled_from(list('AB {}":,1 0\n-.!?#<x\tntrue')), max_size=60)


@FAST
@given(junk_text)
def test_hostile_shiviz_logs_raise_only_trace_errors(text):
    try:
        t = Trace.from_shiviz(text)
    except TraceError:
        return
    t.validate()
    assert Trace.from_shiviz(t.to_shiviz(), processes=t.processes) == t


@FAST
@given(junk_text)
def test_hostile_text_traces_raise_only_trace_errors(text):
    try:
        t = Trace.parse(text)
    except TraceError:
        return
    assert Trace.parse(t.to_text()) == t


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.floats(allow_nan=True)
    | st.sampled_from(["a", "b", "A", "send", "receive", "local", "m", "a\n", "x#y", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["processes", "name", "events", "kind", "message", "tag", "time",
                         "sources", "text", "attrs", "zz"]), inner, max_size=4),
    max_leaves=12)


@FAST
@given(json_values)
def test_hostile_json_raises_only_trace_errors(data):
    try:
        text = json.dumps(data)
    except ValueError:
        return
    try:
        t = Trace.from_json(text)
    except TraceError:
        return
    assert Trace.from_json(t.to_json()) == t


@FAST
@given(st.sampled_from(["a", "a b", "a\n", "a#b", "", "a<b", "é", 3, None, "a!b"]),
       st.sampled_from(["P", "P\n", "P#", 1]))
def test_hostile_builder_input_raises_trace_errors(name, proc):
    t = Trace(["P"])
    try:
        t.local(proc, name)  # type: ignore[arg-type]
    except TraceError:
        return
    assert Trace.parse(t.to_text()) == t and Trace.from_json(t.to_json()) == t


def test_names_follow_one_rule_everywhere():
    with pytest.raises(TraceError, match="Bad event name 'a\\\\n'"):
        Trace(["A"]).local("A", "a\n")
    with pytest.raises(TraceError, match="Bad event name 'a#b'"):
        Trace(["A"]).local("A", "a#b")
    with pytest.raises(TraceError, match="Bad process name 'A#'"):
        Trace(["A#"])
    doc = {"processes": [{"name": "A", "events": [{"name": "x#y"}]}]}
    with pytest.raises(TraceError, match=r"processes\[0\].events\[0\]: Bad event name"):
        Trace.from_json(json.dumps(doc))


@pytest.mark.parametrize(("doc", "needle"), [
    ('{"processes": [{"name": "A", "events": "x"}]}', "processes\\[0\\].events must be a list"),
    ('{"processes": "x"}', "'processes' must be a list"),
    ("[1]", "top level must be an object"),
    ('{"processes": [], "extra": 1}', "unknown top-level fields"),
    ('{"processes": [{"name": "A", "events": [{"name": "a", "time": NaN}]}]}', "NaN"),
    ('{"processes": [{"name": "A", "events": [{"name": "a", "time": true}]}]}',
     "time must be a finite number"),
    ('{"processes": [{"name": "A", "events": [{"name": "a", "tag": 3}]}]}',
     "tag must be a string"),
    ('{"processes": [{"name": "A", "events": [{"name": "a", "message": "m"}]}]}',
     "a local event has no message"),
    ('{"processes": [{"name": "A", "events": [{"name": "a", "sources": "b"}]}]}',
     "sources must be a list"),
    ('{"processes": [{"name": "A", "events": [{"name": "a", "sources": ["zz"]}]}]}',
     "source 'zz' that is not an event"),
    ('{"processes": [{"name": "A", "events": [{"name": "a", "wat": 1}]}]}',
     "unknown fields \\['wat'\\]"),
    ("[" * 100_000, "nested more than"),
])
def test_bad_json_gets_clear_errors(doc, needle):
    with pytest.raises(TraceError, match=needle):
        Trace.from_json(doc)


def test_checkers_refuse_wrong_types():
    t = Trace.parse("A: a b")
    with pytest.raises(TypeError, match="An order must be a list"):
        check_total_order(t, "ab")
    with pytest.raises(TypeError, match="event names"):
        check_total_order(t, [1, 2])
    with pytest.raises(TypeError, match="must be a mapping"):
        check_clock_condition(t, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        check_clock_condition(t, {"a": 1, "b": "2"})  # type: ignore[dict-item]
