"""Part E's whole walk in a single-device jit, plus a do-nothing pmap whose psum adds zeros,
added to the result: the right total and a mapped collective in the program, but none of the
walk runs split across the devices. The old structural checker called it parallel; the
judge follows the dataflow. Loses only the parallelism points."""

import jax
import jax.numpy as jnp
from jax import lax

walk_block = None  # the notebook's (the solution's) answer

# %% walk_parallel
def walk_parallel(key, start, steps):
    """One device does the work; a token pmap makes the program look parallel."""
    n = jax.local_device_count()
    total = jax.jit(lambda k, s: walk_block(k, s, 0, steps))(key, start)
    token = jax.pmap(lambda z: lax.psum(z, "devices"), axis_name="devices")(
        jnp.zeros(n, jnp.int32))
    return total + token
