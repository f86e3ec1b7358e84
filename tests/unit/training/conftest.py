"""Make the ``classifier`` package importable before the project is pip-installed."""

import sys
from pathlib import Path

try:
    import classifier  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "training"))
