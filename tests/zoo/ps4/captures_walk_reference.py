"""walk_block captures the library's reference walk in a default argument, in its answer
cell, before any test switches the library off: a patch-based guard never sees it. The
grading kernel's library has no reference code at all, so the captured object is a stub
that raises. Loses every walk_block point and what depends on it."""

# %% walk_block
import course.jaxtools._workloads


def walk_block(key, start, first, steps, _ref=course.jaxtools._workloads._walk_block):
    return _ref(key, start, first, steps)
