"""time_eager_vs_jit times `jax.jit(lambda y: f(y))(x)`: a new function, so a new compilation,
on every call; the harness reports the recompilation. Loses the harness test only (the
experiment cell still runs)."""

import jax

from course.jaxtools import compare

f = None  # the notebook's

# %% time_eager_vs_jit
def time_eager_vs_jit(x, repeat=7):
    """Jits inside the timed function."""
    return compare({"eager": f, "jit": lambda y: jax.jit(lambda z: f(z))(y)}, x, repeat=repeat)
