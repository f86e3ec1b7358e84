"""Lambda's REST-JSON wire protocol on the edge (``/2015-03-31/functions...``).

- ``POST /2015-03-31/functions/{FunctionName}/invocations``: Invoke. ``X-Amz-Invocation-Type``
  (RequestResponse 200, Event 202, DryRun 204), ``X-Amz-Log-Type: Tail`` (``X-Amz-Log-Result``:
  base64 of the last 4 KB of the log), ``X-Amz-Function-Error: Unhandled`` with the
  ``{errorType, errorMessage, stackTrace}`` body when the function failed.
- ``GET /2015-03-31/functions/{FunctionName}`` (GetFunction), ``.../configuration``
  (GetFunctionConfiguration) and ``GET /2015-03-31/functions`` (ListFunctions).
- Any other Lambda path answers AWS's error shape saying it is not supported by localcloud.

Errors use ``x-amzn-ErrorType`` plus a JSON body, which botocore reads. Relies on Starlette.
"""

from __future__ import annotations

import base64

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import AwsError
from ..protocol import request_id, rest_json_error
from .functions import Functions, configuration
from .models import InvokeResult

_ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]


def lambda_routes(service: Functions) -> list[BaseRoute]:
    api = LambdaRest(service)
    return [
        Route("/2015-03-31/functions/{name}/invocations", api.invoke, methods=["POST"]),
        Route("/2015-03-31/functions/{name}/configuration", api.get_configuration, methods=["GET"]),
        Route("/2015-03-31/functions/{name}", api.get_function, methods=["GET"]),
        Route("/2015-03-31/functions", api.list_functions, methods=["GET"]),
        Route("/2015-03-31/functions/", api.list_functions, methods=["GET"]),
        Route("/2015-03-31/{rest:path}", api.unsupported, methods=_ALL_METHODS),
        Route("/2015-03-31", api.unsupported, methods=_ALL_METHODS),
    ]


class LambdaRest:
    """Lambda's REST operations over the function registry, one Starlette endpoint each."""

    def __init__(self, service: Functions) -> None:
        self.service = service

    async def invoke(self, request: Request) -> Response:
        try:
            result = await self._invoke(request)
        except AwsError as err:
            return rest_json_error(err)
        except ValueError as exc:
            return rest_json_error(
                AwsError("InvalidRequestContentException", f"Bad X-Amz-Client-Context: {exc}")
            )
        headers = {"x-amzn-RequestId": result.request_id or request_id(), "X-Amz-Executed-Version": "$LATEST"}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if result.log_tail is not None:
            headers["X-Amz-Log-Result"] = result.log_tail
        if result.status != 200:
            return Response(status_code=result.status, headers=headers)
        return Response(result.payload, status_code=200, media_type="application/json", headers=headers)

    async def _invoke(self, request: Request) -> InvokeResult:
        payload = await request.body()
        client_context = request.headers.get("x-amz-client-context")
        if client_context:
            client_context = base64.b64decode(client_context).decode()
        return await run_in_threadpool(
            self.service.invoke,
            request.path_params["name"],
            payload,
            invocation_type=request.headers.get("x-amz-invocation-type", "RequestResponse"),
            log_type=request.headers.get("x-amz-log-type"),
            client_context=client_context,
        )

    async def get_function(self, request: Request) -> Response:
        try:
            doc = self.service.resolve(request.path_params["name"])
        except AwsError as err:
            return rest_json_error(err)
        return JSONResponse(
            {
                "Configuration": configuration(doc),
                "Code": {"RepositoryType": "Local", "Location": f"file://{doc['CodeDir']}"},
                "Tags": doc.get("Tags", {}),
            }
        )

    async def get_configuration(self, request: Request) -> Response:
        try:
            return JSONResponse(self.service.get_function(request.path_params["name"]))
        except AwsError as err:
            return rest_json_error(err)

    async def list_functions(self, request: Request) -> Response:
        functions = self.service.list_functions()
        marker = int(request.query_params.get("Marker") or 0)
        limit = int(request.query_params.get("MaxItems") or 50)
        page = functions[marker : marker + limit]
        body: dict[str, object] = {"Functions": page}
        if marker + limit < len(functions):
            body["NextMarker"] = str(marker + limit)
        return JSONResponse(body)

    async def unsupported(self, request: Request) -> Response:
        return rest_json_error(
            AwsError(
                "InvalidRequestContentException",
                f"{request.method} {request.url.path} is not supported by localcloud (Lambda functions come "
                "from template.yaml; Invoke, GetFunction, GetFunctionConfiguration and ListFunctions are "
                "supported)",
            )
        )
