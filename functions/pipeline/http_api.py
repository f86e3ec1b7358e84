"""powertools' HTTP API resolver, imported without the rest of ``aws_lambda_powertools.event_handler``.

The package's ``__init__`` imports every resolver powertools has (AppSync, AppSync Events, Bedrock
agents, VPC Lattice, Lambda function URLs...), a cold-start cost the predict function pays on
every new container for classes it never uses. ``import_alone`` puts the package in
``sys.modules`` without running its ``__init__``: its submodules import as usual (a
``from package import submodule`` reaches them through a PEP 562 ``__getattr__``), and the first
access to any other name of the package runs the real ``__init__``, so code that does
``from aws_lambda_powertools.event_handler import AppSyncResolver`` later still works.
Hand-written because the standard library's ``importlib.util.LazyLoader`` runs the ``__init__`` as
soon as the import system reads the package's ``__path__`` (that is, on the first submodule import).
Relies on aws-lambda-powertools (event_handler.api_gateway, router, exceptions, content_types).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType

EVENT_HANDLER = "aws_lambda_powertools.event_handler"


def import_alone(package: str, submodule: str) -> ModuleType:
    """``package.submodule``, with ``package``'s ``__init__`` left for when something needs it."""
    if package not in sys.modules:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            raise ImportError(f"{package} is not a package")
        loader = spec.loader
        module = importlib.util.module_from_spec(spec)

        def package_attribute(name: str) -> object:
            if importlib.util.find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f"{package}.{name}")
            del module.__getattr__  # the real __init__ defines the rest
            loader.exec_module(module)
            return getattr(module, name)

        module.__getattr__ = package_attribute  # type: ignore[method-assign]
        sys.modules[package] = module
    return importlib.import_module(f"{package}.{submodule}")


import_alone(EVENT_HANDLER, "api_gateway")

from aws_lambda_powertools.event_handler import content_types  # noqa: E402
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response  # noqa: E402
from aws_lambda_powertools.event_handler.exceptions import ServiceError  # noqa: E402
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter  # noqa: E402

# The router's __init__ has no annotations; seen through this typed alias, making one is a typed call.
new_router: Callable[[], APIGatewayHttpRouter] = APIGatewayHttpRouter

__all__ = [
    "APIGatewayHttpResolver",
    "APIGatewayHttpRouter",
    "Response",
    "ServiceError",
    "content_types",
    "new_router",
]
