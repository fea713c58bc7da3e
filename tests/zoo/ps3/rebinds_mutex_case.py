"""A correct-looking stub plus a rebinding of the test helper so that the tests "pass":
the grader gets no record from the hidden cases and scores them 0."""

# %% ricart_agrawala
import course.grading


class RicartAgrawala(Node):  # noqa: F821 (Node comes from the set-up cell)
    def on_request_cs(self):
        self.enter_cs()


course.grading.mutex_case = lambda *args, **kwargs: None
