"""nbgrader configuration every account of the hub reads (students, instructors, TAs and the
formgrader service): the course id and the shared exchange.

The hub puts this folder on every server's ``JUPYTER_CONFIG_PATH`` and sets ``COURSE_ID`` and
``COURSE_EXCHANGE`` (deploy/jupyterhub_config.py); a real server may instead copy it to
``/etc/jupyter/nbgrader_config.py`` with the values written in. The formgrader service also
reads the course root's own ``nbgrader_config.py`` (the instructor repository's), which takes
the same exchange from ``COURSE_EXCHANGE``.
"""

import os

c = get_config()  # noqa: F821 -- provided by traitlets when it runs this file

# One course on this hub: its id is also the formgrader service's name and the suffix of the
# hub groups formgrade-<id> (instructor, TAs) and nbgrader-<id> (students).
c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "csc36000-distributed")
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
