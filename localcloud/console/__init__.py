"""localcloud's web console at ``/_localcloud/`` on the edge (docs/console.md).

``app.py`` (routes, CSP, live fragments) mounts it; ``data.py`` is the one module that reads the
services (through their AWS operations); ``pages.py`` builds each page's values with ``views.py``
(rows and chart points), ``graph.py`` (the state machine from its ASL) and ``charts.py`` (SVG).
"""
