"""walk_parallel left unanswered, and an AST transformer that empties every later cell:
under in-kernel verdicts every test after it would pass. The tests only report, so all of
Part E's test cells (they come after this answer cell) score 0."""

# %% walk_parallel
import ast


class _Empty(ast.NodeTransformer):
    def visit_Module(self, node):
        node.body = [ast.Pass()]
        return node


get_ipython().ast_transformers.append(_Empty())  # noqa: F821


def walk_parallel(key, start, steps):
    raise NotImplementedError()
