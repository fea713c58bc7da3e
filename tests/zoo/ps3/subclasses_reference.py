"""Takes the library's reference algorithm by subclassing it (switched off while graded, and
not the student's own code): every Part B test fails, and so do the costs of Part C."""

# %% ricart_agrawala
import course.mutex


class RicartAgrawala(course.mutex.RicartAgrawala):
    pass
