"""The formgrader service's Jupyter server: the JupyterHub >= 4.1 blank-formgrader workaround.

JupyterHub 4.1 made every single-user server (and every service run with
``jupyterhub-singleuser``) send ``Content-Security-Policy: frame-ancestors 'none'``: no page
may frame it, so that in a same-origin deployment (every user's server under one host) one
user's page cannot frame and script another's. nbgrader's formgrader tab in JupyterLab *is*
an iframe (of ``<server>/formgrader``, inside ``<server>/lab``), so it stays blank
(jupyter/nbgrader#1870; nbgrader's fix, #1915 ``frame-ancestors 'self'``, was reverted in
#1947 because ``'self'`` lets every user's server frame it).

Here only the formgrader service relaxes the policy, and only to its own URL prefix
(``COURSE_FORMGRADER_FRAME_ANCESTORS``, set by deploy/jupyterhub_config.py to
``<public url>/services/<course>/``): a CSP source with a path matches only pages under that
path, so the service's own lab page may frame its formgrader while a student's
``/user/<name>/`` page still may not. Students' and instructors' own servers keep
JupyterHub's ``'none'``. Unset (e.g. with ``JupyterHub.enable_subdomains``), the service keeps
JupyterHub's default, and the formgrader opens in its own browser tab
(``<hub>/services/<course>/formgrader``), which always works.
"""

import os

c = get_config()  # noqa: F821 -- provided by traitlets when it runs this file

_ancestors = os.environ.get("COURSE_FORMGRADER_FRAME_ANCESTORS")
if _ancestors:
    c.ServerApp.tornado_settings = {
        "headers": {"Content-Security-Policy": f"frame-ancestors {_ancestors}"}}
