"""No package binds a name in its ``__init__`` that one of its own submodules also has.

Importing a submodule sets it as an attribute of its package, replacing whatever the package's
``__init__`` had bound under that name: ``localcloud/sagemaker/__init__.py`` imports the function
``dispatch`` from ``.api``, and a submodule ``localcloud/sagemaker/dispatch.py``, once any code imported
it, turned ``SageMakerService.dispatch``'s call into a call of a module (TypeError on every
SageMaker operation, depending on import order). Read from the source (ast), so the answer does
not depend on what this process imported before.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ROOTS = [REPO / "localcloud", REPO / "functions" / "pipeline", REPO / "training" / "classifier"]


def _bound_names(init: Path) -> set[str]:
    """Top-level names ``__init__.py`` binds to something other than its own submodule."""
    names: set[str] = set()
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            if node.level and node.module is None:
                continue  # ``from . import x`` binds the submodule x itself
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _packages() -> list[Path]:
    return sorted(init.parent for root in ROOTS for init in root.rglob("__init__.py"))


@pytest.mark.parametrize("package", _packages(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_submodule_shares_a_name_its_package_binds(package: Path) -> None:
    submodules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    submodules |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert _bound_names(package / "__init__.py") & submodules == set()
