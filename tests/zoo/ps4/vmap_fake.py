"""Part E with jax.vmap over the device blocks instead of jax.pmap: the right total on every
device count, but nothing runs per device. Loses only the parallelism points."""

import jax
import jax.numpy as jnp

split_walkers = walk_block = None  # the notebook's (the solution's) answers

# %% walk_parallel
def walk_parallel(key, start, steps):
    """All walkers, "in parallel" with vmap over the blocks, summed."""
    n = jax.local_device_count()
    blocks = split_walkers(start, n)
    firsts = jnp.arange(n) * blocks.shape[1]
    sums = jax.vmap(lambda block, first: walk_block(key, block, first, steps))(blocks, firsts)
    return jnp.full((n,), jnp.sum(sums))
