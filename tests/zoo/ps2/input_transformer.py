"""total_order left unanswered, and an IPython input transformer that turns every later
test cell into `pass`: under in-kernel verdicts Part C would score full marks with no answer.
The tests only report, so a silenced test reports nothing and scores 0 (and the judge flags
the transformer)."""

# %% total_order
def _silence(lines):
    return ["pass\n"] if any(line.startswith("# Checks") for line in lines) else lines


get_ipython().input_transformers_post.append(_silence)  # noqa: F821


def total_order(trace, timestamps):
    raise NotImplementedError()
