"""``python -m pipeline_demo``: the ``pipeline-demo`` command."""

import sys

from .cli import main

sys.exit(main())
