"""localcloud's Lambda: a registry of functions (from template.yaml) and warm worker pools running them.

- ``functions.py``: the registry and ``invoke(function_name, payload)``, the in-process API Step
  Functions and the HTTP API use (:class:`~localcloud.lambda_.functions.Functions`);
- ``responses.py``: Lambda's REST API on the edge (Invoke, GetFunction, GetFunctionConfiguration,
  ListFunctions), so ``aws lambda invoke`` and boto3 work unchanged;
- ``workers.py`` / ``runtime_api.py``: the awslambdaric worker processes and their Runtime API.

:class:`LambdaService` is the registry with its REST routes.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..service import BaseService
from .functions import Functions, configuration
from .layers import Layer
from .models import FUNCTION_KIND, InvokeResult
from .responses import lambda_routes

__all__ = ["FUNCTION_KIND", "Functions", "InvokeResult", "LambdaService", "Layer", "configuration"]


class LambdaService(Functions, BaseService):
    def routes(self) -> list[BaseRoute]:
        return lambda_routes(self)
