"""Part A answered with NumPy arrays (wrong: they must be JAX arrays), and numpy's testing
functions rebound to do nothing, so a test that asserted with them would pass. The tests
only report; the judge compares. Loses Part A's wave points, like numpy_arrays."""

import numpy as np

# %% wave
import numpy.testing


def _nothing(*args, **kwargs):
    return None


for _name in ("assert_allclose", "assert_array_equal", "assert_equal"):
    setattr(numpy.testing, _name, _nothing)


def wave(n=100):
    x = np.linspace(0, 10, n)
    return x, 2 * np.sin(x)
