"""Part E with a Python loop over the device blocks: the right total on every device count,
computed one block after the other. Loses only the parallelism points."""

import jax
import jax.numpy as jnp

split_walkers = walk_block = None  # the notebook's (the solution's) answers

# %% walk_parallel
def walk_parallel(key, start, steps):
    """All walkers, one block after the other."""
    n = jax.local_device_count()
    blocks = split_walkers(start, n)
    total = 0
    for d in range(n):
        total = total + walk_block(key, blocks[d], d * blocks.shape[1], steps)
    return jnp.full((n,), total)
