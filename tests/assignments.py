"""Every graded assignment, declared once: what its notebook must hold and what its zoo must score.

An :class:`Assignment` is the instructor's design of one problem set, written down where the
tests can check it: the parts and their points, the auto-graded test cells (visible or with
hidden tests), the written answers, the zoo of buggy submissions (``tests/zoo/<id>/*.py``)
with the cells each one must lose, and the few grading settings a batch needs.

Who reads it:

* ``tests/contract.py`` (:class:`contract.PipelineContract`): the pipeline contract every
  declared assignment passes (designed points in the gradebook, full marks for the solution,
  zero for the untouched release, exactly the designed losses for each zoo entry, hidden
  verdicts and feedback that give nothing away, export and report that agree with the
  gradebook). ``tests/test_pipeline_<id>.py`` grades the batch once and subclasses it.
* ``tests/test_source_notebooks.py`` and ``tests/test_release.py``: every assignment in
  ``source/`` is declared here, its part headings are :attr:`Assignment.parts`, its test
  cells and written answers are the declared ones.

To add an assignment, add one ``Assignment(...)`` to :data:`ASSIGNMENTS` (see
``docs/instructors.md``, "Writing an assignment").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

NOT_IMPLEMENTED = frozenset({"NotImplementedError"})


@dataclass(frozen=True)
class OptionalPart:
    """A part the course leaves out unless it switches it on (``OptionalParts`` in
    nbgrader_config.py, :class:`course.nbplugins.OptionalParts`): in the source notebook,
    in neither release/ nor the gradebook while it is off. The :class:`Assignment` fields
    describe the assignment as released, without it; ``tests/test_optional_parts.py``
    grades it switched on."""

    #: Auto-graded test cell -> points.
    points: Mapping[str, float]
    #: The test cells with no hidden test.
    visible: frozenset[str]
    #: Written answer -> points.
    manual: Mapping[str, float]
    #: Zoo file (``tests/zoo/<id>-part-<letter>/<name>.py``, the part switched on) -> the
    #: part's test cells it must lose; it keeps every other point.
    zoo: Mapping[str, frozenset[str]]
    #: Zoo entries that pass every visible test of the part.
    pass_visible: frozenset[str]

    @property
    def hidden(self) -> frozenset[str]:
        return frozenset(self.points) - self.visible

    @property
    def total(self) -> float:
        return sum(self.points.values()) + sum(self.manual.values())


@dataclass(frozen=True)
class Assignment:
    """One assignment's design. Cell names are nbgrader grade ids."""

    #: The assignment id: ``source/<id>/<id>.ipynb``, ``tests/zoo/<id>/``.
    id: str
    #: Part letter -> points in its heading ``## Part X (N points)``: the auto-graded test
    #: cells and the written answers under that heading together.
    parts: Mapping[str, float]
    #: Auto-graded test cell -> points.
    points: Mapping[str, float]
    #: The test cells with no hidden test: what a student's *Validate* runs in full. The
    #: others hold hidden tests (``### BEGIN HIDDEN TESTS``).
    visible: frozenset[str]
    #: Manually graded answer cell (written answer) -> points.
    manual: Mapping[str, float]
    #: Zoo file (``tests/zoo/<id>/<name>.py``) -> the test cells it must lose: it scores 0
    #: there and full points everywhere else. An empty set: full marks (a noisy but right
    #: submission).
    zoo: Mapping[str, frozenset[str]]
    #: Zoo entries that pass every visible test and lose hidden ones only (at least one):
    #: the hidden tests catch what Validate cannot.
    pass_visible: frozenset[str]
    #: Per-cell timeout of the test course (``Execute.timeout``), in seconds: a few times the
    #: slowest correct cell, so that a looping submission costs little.
    timeout: int = 10
    #: (zoo entry, text in the first line of one of its failing test cells) for a bug the
    #: visible tests do catch, checked with nbgrader's Validator (what *Validate* runs); None:
    #: no Validator run (ps4: a JAX kernel per notebook would double the batch's time).
    caught_by_validate: tuple[str, str] | None = None
    #: Test cells a ``deleted_tests`` submission deletes (nbgrader must restore and run them).
    deleted: tuple[str, ...] = ()
    #: Zoo entries that time out or kill their kernel: the TA report lists their cells.
    #: Every other submission must run every cell to completion.
    problems: frozenset[str] = frozenset()
    #: Zoo entries (or ``solution``) that ``course grade`` flags as tampering.
    flagged: frozenset[str] = frozenset()
    #: Zoo entry -> a phrase its feedback page must show (the explanation a hidden or
    #: visible test wrote for the student).
    feedback_says: Mapping[str, str] = field(default_factory=dict)
    #: Exception names the untouched release may raise (the stubs' NotImplementedError, and
    #: NameError where a later cell uses a name the stub never defined).
    untouched_errors: frozenset[str] = NOT_IMPLEMENTED
    #: CPU device counts the batch is graded on (JAX); the first one grades the whole zoo.
    device_counts: tuple[int, ...] = (1,)
    #: Zoo entries graded again on every other device count (their scores must not change).
    on_every_count: tuple[str, ...] = ()
    #: Optional parts, by letter (see :class:`OptionalPart`); their headings, cells and
    #: points are in the source notebook but in none of the fields above.
    optional: Mapping[str, OptionalPart] = field(default_factory=dict)

    @property
    def hidden(self) -> frozenset[str]:
        """The test cells with hidden tests."""
        return frozenset(self.points) - self.visible

    @property
    def source_points(self) -> dict[str, float]:
        """Test cells -> points in the source notebook: with the optional parts."""
        return {**self.points, **{c: p for o in self.optional.values()
                                  for c, p in o.points.items()}}

    @property
    def source_manual(self) -> dict[str, float]:
        return {**self.manual, **{c: p for o in self.optional.values()
                                  for c, p in o.manual.items()}}

    @property
    def source_hidden(self) -> frozenset[str]:
        return self.hidden.union(*(o.hidden for o in self.optional.values()))

    @property
    def source_parts(self) -> dict[str, float]:
        """Part -> the points in its heading, optional parts included."""
        return {**self.parts, **{x: o.total for x, o in self.optional.items()}}

    @property
    def auto_total(self) -> float:
        return sum(self.points.values())

    @property
    def total(self) -> float:
        """Auto-graded and manual points: the export's ``max_score``."""
        return self.auto_total + sum(self.manual.values())

    def designed_scores(self, entry: str) -> dict[str, float]:
        """The per-cell scores a zoo entry must get."""
        lost = self.zoo[entry]
        return {cell: 0.0 if cell in lost else pts for cell, pts in self.points.items()}

    def problems_with_the_design(self) -> list[str]:
        """Why this declaration contradicts itself (empty when it is coherent)."""
        out = []
        cells = set(self.points)
        if not self.visible <= cells:
            out.append(f"visible cells that are not test cells: {sorted(self.visible - cells)}")
        if not self.hidden:
            out.append("no test cell with hidden tests")
        if sum(self.parts.values()) != self.total:
            out.append(f"the parts add up to {sum(self.parts.values()):g} points, the test "
                       f"cells and written answers to {self.total:g}")
        for name, lost in self.zoo.items():
            if not lost <= cells:
                out.append(f"zoo entry {name} loses cells that are not test cells: "
                           f"{sorted(lost - cells)}")
        if not any(self.zoo.values()):
            out.append("no zoo entry loses anything")
        if not self.pass_visible:
            out.append("no zoo entry passes every visible test (pass_visible)")
        for name in sorted(self.pass_visible):
            if name not in self.zoo:
                out.append(f"pass_visible names {name}, which is not in the zoo")
            elif not self.zoo[name] or self.zoo[name] & self.visible:
                out.append(f"pass_visible entry {name} must lose hidden cells only, not "
                           f"{sorted(self.zoo[name])}")
        named = {*self.problems, *self.feedback_says, *self.on_every_count,
                 *(self.flagged - {"solution"})}
        if self.caught_by_validate:
            named.add(self.caught_by_validate[0])
        if not named <= set(self.zoo):
            out.append(f"names that are not zoo entries: {sorted(named - set(self.zoo))}")
        if self.caught_by_validate and not self.zoo[self.caught_by_validate[0]] & self.visible:
            out.append(f"caught_by_validate entry {self.caught_by_validate[0]} loses no "
                       f"visible cell")
        for x, o in self.optional.items():
            if x in self.parts:
                out.append(f"Part {x} is declared both graded and optional")
            if not o.visible <= set(o.points) or not o.hidden:
                out.append(f"optional Part {x}: visible cells must be test cells, and one "
                           f"must hold hidden tests")
            for name, lost in o.zoo.items():
                if not lost or not lost <= set(o.points):
                    out.append(f"optional Part {x}'s zoo entry {name} must lose some of the "
                               f"part's test cells, not {sorted(lost)}")
            for name in o.pass_visible:
                if o.zoo.get(name, o.visible) & o.visible:
                    out.append(f"optional Part {x}: pass_visible entry {name} must be in its "
                               f"zoo and lose hidden cells only")
        if not set(self.deleted) <= cells:
            out.append(f"deleted cells that are not test cells: "
                       f"{sorted(set(self.deleted) - cells)}")
        if not self.device_counts or (self.on_every_count and len(self.device_counts) < 2):
            out.append("on_every_count needs two or more device_counts")
        return out


def _points(**cells: float) -> Mapping[str, float]:
    return MappingProxyType({k: float(v) for k, v in cells.items()})


def _zoo(**entries: frozenset[str] | set[str]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({k: frozenset(v) for k, v in entries.items()})


# ----- ps1: Lamport clocks ----------------------------------------------------------------
_CLOCK = {"ps1_clock_tick_send", "ps1_clock_receive", "ps1_clock_hidden"}
_TIMESTAMPS = {"ps1_ts_lecture", "ps1_ts_small", "ps1_ts_random", "ps1_ts_edge"}

PS1 = Assignment(
    id="ps1",
    parts=_points(A=4, B=7, C=2),
    points=_points(ps1_clock_tick_send=1, ps1_clock_receive=1, ps1_clock_hidden=2,
                   ps1_ts_lecture=1, ps1_ts_small=1, ps1_ts_random=3, ps1_ts_edge=2),
    visible=frozenset({"ps1_clock_tick_send", "ps1_clock_receive", "ps1_ts_lecture",
                       "ps1_ts_small"}),
    manual=_points(ps1_why_not_converse=2),
    zoo=_zoo(
        # receive() wrong on the lecture's example: every receive-dependent cell fails.
        max_without_plus_one=(_CLOCK | _TIMESTAMPS) - {"ps1_clock_tick_send"},
        receive_ignores_message=(_CLOCK | _TIMESTAMPS) - {"ps1_clock_tick_send"},
        # send() does not tick: the visible receive test also sends once after receiving.
        no_tick_on_send=_CLOCK | _TIMESTAMPS,
        # Pass every visible test, fail hidden ones.
        receive_only_if_behind={"ps1_clock_hidden", "ps1_ts_random", "ps1_ts_edge"},
        process_order={"ps1_ts_random", "ps1_ts_edge"},
        # One clock for everyone: the class is fine, the trace timestamps are not.
        shared_clock=_TIMESTAMPS,
        # The library's reference, imported or wrapped: nothing.
        calls_reference=_CLOCK | _TIMESTAMPS,
        # Hangs only on traces with a message to an earlier-listed process (hidden tests).
        loops_forever={"ps1_ts_random", "ps1_ts_edge"},
        # Dies in the first Part B test: Part A keeps its points, Part B gets nothing.
        kills_kernel=_TIMESTAMPS,
        # Correct but writes warnings, log lines and raw fd-2 output: full marks.
        warns=set(),
    ),
    pass_visible=frozenset({"receive_only_if_behind", "process_order"}),
    # The slowest correct cell takes ~0.5 s; 10 s leaves room for a loaded CI machine while
    # the looping submission still costs only 2 x 10 s.
    timeout=10,
    caught_by_validate=("max_without_plus_one", "receive()"),
    deleted=("ps1_clock_receive", "ps1_ts_random"),
    problems=frozenset({"loops_forever", "kills_kernel"}),
    feedback_says={"process_order": "Wrong Lamport timestamps on random trace",
                   "receive_only_if_behind": "break the clock condition"},
)

# ----- ps2: happens-before and the total order --------------------------------------------
_VECTORS = {"ps2_vc_lecture", "ps2_vc_hidden"}
_RELATION = {"ps2_hb_lecture", "ps2_hb_hidden", "ps2_conc_lecture", "ps2_conc_hidden"}
_ORDER = {"ps2_order_lecture", "ps2_order_tiebreak", "ps2_order_random"}

PS2 = Assignment(
    id="ps2",
    parts=_points(A=3, B=6, C=5, D=2),
    points=_points(ps2_vc_lecture=1, ps2_vc_hidden=2, ps2_hb_lecture=1, ps2_hb_hidden=2,
                   ps2_conc_lecture=1, ps2_conc_hidden=2, ps2_order_lecture=1,
                   ps2_order_tiebreak=2, ps2_order_random=2),
    visible=frozenset({"ps2_vc_lecture", "ps2_hb_lecture", "ps2_conc_lecture",
                       "ps2_order_lecture"}),
    manual=_points(ps2_why_consistent=2),
    zoo=_zoo(
        # No rule 3: a → f is missed (visible), so concurrent calls a and f concurrent.
        hb_without_transitivity=_RELATION,
        # TS(a) < TS(b) taken for a → b: e → b is claimed (visible).
        hb_from_lamport=_RELATION,
        # Receives don't merge: vectors and everything built on them.
        vector_no_merge=_VECTORS | _RELATION,
        # Tie by larger pid: wrong on the lecture's a/e tie already.
        tiebreak_larger_pid=_ORDER,
        # The library's reference, imported or wrapped: nothing.
        calls_reference=_VECTORS | _RELATION | _ORDER,
        # Pass every visible test, fail hidden ones:
        concurrent_includes_self={"ps2_conc_hidden"},
        vector_sorted_names={"ps2_vc_hidden"},
        tiebreak_event_name={"ps2_order_tiebreak", "ps2_order_random"},
        tiebreak_process_name={"ps2_order_tiebreak", "ps2_order_random"},
        ignores_given_timestamps={"ps2_order_random"},
        # Ties in the order the timestamps dict happens to list them: the cases vary that order.
        tiebreak_dict_order=_ORDER,
        tiebreak_listing_order=_ORDER,
        # Rebinds the test helpers: every test cell after the rebinding reports nothing.
        rebinds_grading=_RELATION | _ORDER,
        # Captures the reference before any guard: absent from the grading kernel, so a stub.
        captures_reference=_RELATION,
        # Silences, rigs or forges the tests: the judge decides from records, nothing is gained.
        input_transformer=_ORDER,
        rigged_bool={"ps2_conc_lecture", "ps2_conc_hidden"},
        forged_records=_ORDER,
        # Correct but warns and logs: full marks.
        warns=set(),
    ),
    pass_visible=frozenset({"concurrent_includes_self", "vector_sorted_names",
                            "tiebreak_event_name", "tiebreak_process_name",
                            "ignores_given_timestamps"}),
    timeout=10,
    caught_by_validate=("tiebreak_larger_pid", "total_order"),
    deleted=("ps2_hb_hidden", "ps2_order_lecture"),
    # Signs of tampering the judge reports (rigged_bool's int subclass is simply a wrong
    # value once the record is encoded with its exact type: no flag).
    flagged=frozenset({"rebinds_grading", "input_transformer", "forged_records"}),
    feedback_says={"tiebreak_event_name": "Wrong total order on tie-break case"},
)

# ----- ps3: distributed mutual exclusion ---------------------------------------------------
_B = {"ps3_ra_two", "ps3_ra_three", "ps3_ra_seeds", "ps3_ra_exhaustive"}
_C = {"ps3_costs", "ps3_costs_hidden"}
_HIDDEN_B = {"ps3_ra_seeds", "ps3_ra_exhaustive"}
_D = {"ps3_lamport_two", "ps3_lamport_hidden"}
_HIDDEN_D = {"ps3_lamport_hidden"}

PS3 = Assignment(
    id="ps3",
    parts=_points(A=4, B=10, C=3),
    points=_points(ps3_measure_visible=1, ps3_measure_hidden=1, ps3_ra_two=1, ps3_ra_three=1,
                   ps3_ra_seeds=4, ps3_ra_exhaustive=4, ps3_costs=1, ps3_costs_hidden=1),
    visible=frozenset({"ps3_measure_visible", "ps3_ra_two", "ps3_ra_three", "ps3_costs"}),
    manual=_points(ps3_crash_answer=2, ps3_compare=1),
    # Part C measures the student's own class, so a class that never lets anyone in (or is
    # not the student's) loses C too.
    zoo=_zoo(
        # Unsafe: two processes in the CS together.
        reply_in_cs=_B - {"ps3_ra_three"},  # the 3-process seeds happen not to show it
        no_pid_tiebreak=_B,
        enters_one_early=_B,
        reply_before_recording=_B,
        pids_only=_B - {"ps3_ra_two"},  # safe for 2 processes, not for 3
        # Unfair: a later request is served first.
        comparison_reversed=_B,
        own_counter={"ps3_ra_exhaustive"},  # passes every visible test and every seed
        # Not live: someone waits forever.
        defers_when_idle=_HIDDEN_B,  # passes every visible test
        deferred_never_sent=_B | _C,
        stale_clock=_B | _C,
        # Not judgeable: the behaviour depends on a global counter.
        nondeterministic=_B - {"ps3_ra_two"},
        # Not the student's code, or no record at all.
        subclasses_reference=_B | _C,
        returns_reference=_B | _C,
        rebinds_mutex_case=_B | _C,
    ),
    pass_visible=frozenset({"own_counter", "defers_when_idle"}),
    timeout=60,
    caught_by_validate=("enters_one_early", "safety"),
    # Part D (Lamport 1978 and FIFO channels): off unless the course includes it.
    optional={"D": OptionalPart(
        points=_points(ps3_lamport_two=1, ps3_lamport_hidden=1),
        visible=frozenset({"ps3_lamport_two"}),
        manual=_points(ps3_fifo=1),
        zoo=_zoo(
            enters_at_head=_D,  # no condition (2): unsafe at once
            ignores_release=_D,  # the released request stays first: nobody else enters
            head_by_timestamp_only=_D,  # ties not broken by pid: unsafe on a tie
            hears_from_one=_HIDDEN_D,  # "any" for "every" in (2): right for 2 processes only
        ),
        pass_visible=frozenset({"hears_from_one"}),
    )},
    flagged=frozenset({"rebinds_mutex_case"}),
    feedback_says={"own_counter": "fails under some delivery order",
                   "defers_when_idle": "liveness",
                   "nondeterministic": "does not behave as a function of its state",
                   "rebinds_mutex_case": "did not complete",
                   "subclasses_reference": "the course library",
                   "returns_reference": "the course library"},
)

# ----- ps4: JAX ----------------------------------------------------------------------------
_VMAP = {"ps4_vmap_small", "ps4_vmap_hidden", "ps4_vmap_vectorized"}
_SPLIT = {"ps4_split_small", "ps4_split_errors"}
_BLOCK = {"ps4_block_small", "ps4_block_hidden"}
_WALK = {"ps4_parallel_value", "ps4_parallel_hidden", "ps4_parallel_really"}
_PARALLEL = {"ps4_parallel_really"}

PS4 = Assignment(
    id="ps4",
    parts=_points(A=3, B=4, C=3, D=3, E=9),
    points=_points(ps4_wave_lecture=1, ps4_wave_hidden=1, ps4_with_value=1, ps4_f_jit=1,
                   ps4_timing_harness=1, ps4_grad_lecture=1, ps4_grad_second=1,
                   ps4_grad_mse=1, ps4_vmap_small=1, ps4_vmap_hidden=1,
                   ps4_vmap_vectorized=1, ps4_split_small=1, ps4_split_errors=1,
                   ps4_block_small=1, ps4_block_hidden=1, ps4_parallel_value=1,
                   ps4_parallel_hidden=2, ps4_parallel_really=2),
    visible=frozenset({"ps4_wave_lecture", "ps4_with_value", "ps4_f_jit",
                       "ps4_timing_harness", "ps4_grad_lecture", "ps4_vmap_small",
                       "ps4_split_small", "ps4_block_small", "ps4_parallel_value"}),
    manual=_points(ps4_jit_analysis=2),
    zoo=_zoo(
        # The right total, not in parallel (verify_parallel): the parallelism points only.
        vmap_fake=_PARALLEL,
        loop_fake=_PARALLEL,
        jit_fake=_PARALLEL,
        pmap_host_sum=_PARALLEL,
        # Single-device jit walk + a do-nothing pmap/psum over zeros (the dataflow catches it).
        jit_walk_token_pmap=_PARALLEL,
        # Attacks on the kernel's checking code: nothing to gain, the judge is elsewhere.
        rebinds_numpy_testing={"ps4_wave_lecture", "ps4_wave_hidden"},
        captures_walk_reference=_BLOCK | _WALK,
        ast_transformer=_SPLIT | _BLOCK | _WALK,  # every test cell after the answer is emptied
        # The library's reference (switched off while grading): every point of what it replaces.
        calls_walk_pmap=_BLOCK | _WALK,
        calls_shard_batch=_SPLIT | _WALK,  # walk_parallel uses split_walkers
        # Leading-axis handling: silently drops walkers instead of raising ValueError.
        drops_remainder={"ps4_split_errors"},
        # Parts A-D.
        numpy_arrays={"ps4_wave_lecture", "ps4_wave_hidden"},
        jit_recompiles={"ps4_timing_harness"},
        wrong_grad={"ps4_grad_mse"},
        wrong_vmap_axis=_VMAP,
        loop_batch={"ps4_vmap_vectorized"},
    ),
    # The parallelism and leading-axis checks are hidden tests: Validate shows nothing.
    pass_visible=frozenset({"vmap_fake", "loop_fake", "jit_fake", "pmap_host_sum",
                            "drops_remainder", "loop_batch"}),
    timeout=60,
    feedback_says={"pmap_host_sum": "walk_parallel does not run in parallel",
                   "drops_remainder": "split_walkers on 10 walkers over 4 devices must raise "
                                      "ValueError"},
    untouched_errors=frozenset({"NotImplementedError", "NameError"}),
    device_counts=(1, 2, 4),
    # One fake of each kind the parallelism check tells apart: a host-side sum (no collective
    # in the mapped body) and a token pmap beside a single-device walk (the dataflow).
    on_every_count=("pmap_host_sum", "jit_walk_token_pmap"),
)

#: Every graded assignment, by id: the source notebooks in source/ are exactly these.
ASSIGNMENTS: Mapping[str, Assignment] = MappingProxyType(
    {a.id: a for a in (PS1, PS2, PS3, PS4)})
