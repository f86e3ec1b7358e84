"""``python -m localcloud`` is the ``localcloud`` command."""

from .cli import main

raise SystemExit(main())
