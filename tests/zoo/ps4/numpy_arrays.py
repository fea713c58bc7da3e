"""wave() computes with NumPy instead of jax.numpy: the right numbers (in float64), but NumPy
arrays. Loses both wave() cells; with_value is the solution's."""
# ruff: noqa: I001 -- each "# %%" section is a separate notebook cell
import numpy as np

# %% wave
def wave(n=100):
    """The lecture's example in NumPy."""
    x = np.linspace(0, 10, n)
    return x, np.sin(x) * 2.0
