"""concurrent left unanswered, and the test helpers rebound so that every later test cell
calls no-ops (course.grading.case in the module and in sys.modules): under in-kernel
verdicts every later test would pass. The tests only report; with no reports, every test
cell after this answer cell scores 0, the student's correct ones included."""

# %% concurrent
import sys

import course.grading


def _nothing(*args, **kwargs):
    return None


course.grading.case = _nothing
sys.modules["course.grading"].case = _nothing


def concurrent(trace, a, b):
    raise NotImplementedError()
