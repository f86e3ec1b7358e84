"""What a template deploys into: the settings, the store and the services that own its resources.

A structural type (``typing.Protocol``): ``localcloud/cloud.py``'s container satisfies it, and so
does any object with these attributes (tests pass a small namespace), so the template package
never imports the container.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..apigateway import HttpApiService
    from ..config import Settings
    from ..lambda_ import LambdaService
    from ..s3 import S3Service
    from ..stepfunctions import StepFunctionsService
    from ..store import Store


class DeployTargets(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def s3(self) -> S3Service: ...

    @property
    def lambda_(self) -> LambdaService: ...

    @property
    def stepfunctions(self) -> StepFunctionsService: ...

    @property
    def apigateway(self) -> HttpApiService: ...
