"""mse_grad differentiates with respect to x instead of w (argnums=1): its shape is x's, not
w's. Loses the mse_grad cell only."""
# ruff: noqa: I001 -- each "# %%" section is a separate notebook cell
import jax
import jax.numpy as jnp

# %% mse_grad
def mse(w, x, y):
    """Mean squared error."""
    return jnp.mean((x @ w - y) ** 2)


mse_grad = jax.grad(mse, argnums=1)
