"""Hosting's resources: Models, EndpointConfigs and Endpoints (Create/Describe/Delete/List/Update).

- Models and EndpointConfigs are records only (SageMaker allows deleting them while an endpoint
  uses them; so does this).
- An Endpoint's record is created here and handed to the fleet (:mod:`deployments`), which starts
  its model servers and moves it to InService or Failed; UpdateEndpoint hands over the new config
  (blue/green), DeleteEndpoint stops the fleet and removes the record.
- A model's extracted files are removed once the model is deleted and no endpoint uses it
  (:mod:`model_files`).

``api.py`` turns records into AWS's answers. Relies on records.py, deployments.py, model_files.py.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..errors import not_supported
from . import common
from .deployments import Fleet
from .locations import check_uri
from .model_files import ModelFiles
from .records import Endpoint, EndpointConfig, HostingRecords, Model

_CONTAINER_FIELDS = {
    "ContainerHostname",
    "Image",
    "ImageConfig",
    "Mode",
    "ModelDataUrl",
    "ModelDataSource",
    "Environment",
}
_MODEL_FIELDS = {
    "ModelName",
    "PrimaryContainer",
    "Containers",
    "InferenceExecutionConfig",
    "ExecutionRoleArn",
    "Tags",
    "VpcConfig",
    "EnableNetworkIsolation",
}
_CONFIG_FIELDS = {
    "EndpointConfigName",
    "ProductionVariants",
    "Tags",
    "KmsKeyId",
    "ExecutionRoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
}
_VARIANT_FIELDS = {
    "VariantName",
    "ModelName",
    "InitialInstanceCount",
    "InstanceType",
    "InitialVariantWeight",
    "ServerlessConfig",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "EnableSSMAccess",
    "RoutingConfig",
}
_ENDPOINT_FIELDS = {"EndpointName", "EndpointConfigName", "DeploymentConfig", "Tags"}
_UPDATE_FIELDS = {
    "EndpointName",
    "EndpointConfigName",
    "RetainAllVariantProperties",
    "DeploymentConfig",
    "RetainDeploymentConfig",
    "ExcludeRetainedVariantProperties",
}


def _fields(params: dict[str, Any], allowed: set[str], where: str = "") -> None:
    for name in params:
        if name not in allowed:
            raise not_supported(f"{where}{name}")


def _check_container(params: dict[str, Any]) -> None:
    containers = params.get("Containers") or []
    if params.get("PrimaryContainer") and containers:
        raise common.validation("Specify either PrimaryContainer or Containers, not both")
    if len(containers) > 1:
        raise not_supported("Containers with more than one container (inference pipelines)")
    container = params.get("PrimaryContainer") or (containers[0] if containers else None)
    if container is None:
        raise common.validation("PrimaryContainer is required")
    _fields(container, _CONTAINER_FIELDS, "PrimaryContainer.")
    if container.get("Mode", "SingleModel") != "SingleModel":
        raise not_supported(f"Container Mode {container['Mode']}")
    if container.get("ModelDataUrl"):
        check_uri(container["ModelDataUrl"], "ModelDataUrl")
    source = (container.get("ModelDataSource") or {}).get("S3DataSource")
    if source:
        check_uri(source["S3Uri"], "ModelDataSource.S3DataSource.S3Uri")


def _check_variants(variants: list[dict[str, Any]]) -> None:
    names = set()
    for variant in variants:
        _fields(variant, _VARIANT_FIELDS, "ProductionVariants.")
        if variant["VariantName"] in names:
            raise common.validation(f"Variant names must be unique; {variant['VariantName']} appears twice")
        names.add(variant["VariantName"])
        if variant.get("ServerlessConfig") is None and (
            not variant.get("InstanceType") or not variant.get("InitialInstanceCount")
        ):
            raise common.validation(
                f"Variant {variant['VariantName']}: InstanceType and "
                "InitialInstanceCount are required unless ServerlessConfig is set"
            )


class Hosting:
    def __init__(
        self, *, settings: Settings, records: HostingRecords, fleet: Fleet, model_files: ModelFiles
    ) -> None:
        self.settings = settings
        self.models, self.configs, self.endpoints = records.models, records.configs, records.endpoints
        self.fleet = fleet
        self.model_files = model_files

    def arn(self, kind: str, name: str) -> str:
        return common.arn(self.settings, kind, name)

    # ------------------------------------------------------------------ models
    def create_model(self, params: dict[str, Any]) -> str:
        """Record a model; its ARN."""
        _fields(params, _MODEL_FIELDS)
        _check_container(params)
        name = params["ModelName"]
        arn = self.arn(common.MODEL, name)
        model = Model(
            description={k: v for k, v in params.items() if k != "Tags"}, tags=params.get("Tags") or []
        )
        model.set(ModelArn=arn, CreationTime=common.now())
        model.description.setdefault("EnableNetworkIsolation", False)
        if not self.models.create(name, model):
            raise common.validation(f'Cannot create already existing model "{arn}".')
        return arn

    def model(self, name: str) -> Model:
        return self.models.require(name, common.could_not_find(self.settings, common.MODEL))

    def delete_model(self, name: str) -> None:
        self.model(name)
        self.models.delete(name)
        self.forget_extracted()

    def forget_extracted(self) -> None:
        """Remove what localcloud extracted for models that are deleted and no endpoint still serves.

        A model deleted while an endpoint runs on it keeps its files until that endpoint is deleted
        (SageMaker lets an endpoint outlive its model); DeleteEndpoint calls this again.
        """
        in_use: set[str] = set()
        for endpoint in self.endpoints.all():
            for config_name in (endpoint.get("EndpointConfigName"), endpoint.pending_config):
                config = self.configs.get(config_name) if config_name else None
                for spec in config.variants if config else []:
                    in_use.add(common.key(spec["ModelName"]))
        self.model_files.forget(lambda key: key in in_use or self.models.get(key) is not None)

    # ------------------------------------------------------------------ endpoint configs
    def create_endpoint_config(self, params: dict[str, Any]) -> str:
        """Record an endpoint config; its ARN."""
        _fields(params, _CONFIG_FIELDS)
        _check_variants(params["ProductionVariants"])
        name = params["EndpointConfigName"]
        arn = self.arn(common.ENDPOINT_CONFIG, name)
        config = EndpointConfig(
            description={k: v for k, v in params.items() if k != "Tags"}, tags=params.get("Tags") or []
        )
        config.set(
            ProductionVariants=[{"InitialVariantWeight": 1.0, **v} for v in params["ProductionVariants"]],
            EndpointConfigArn=arn,
            CreationTime=common.now(),
        )
        if not self.configs.create(name, config):
            raise common.validation(f'Cannot create already existing endpoint configuration "{arn}".')
        return arn

    def endpoint_config(self, name: str) -> EndpointConfig:
        return self.configs.require(name, common.could_not_find(self.settings, common.ENDPOINT_CONFIG))

    def delete_endpoint_config(self, name: str) -> None:
        self.endpoint_config(name)
        self.configs.delete(name)

    # ------------------------------------------------------------------ endpoints
    def _deployable_config(self, name: str) -> EndpointConfig:
        config = self.endpoint_config(name)
        for variant in config.variants:
            self.model(variant["ModelName"])
        return config

    def create_endpoint(self, params: dict[str, Any]) -> str:
        """Record an endpoint (Creating) and start its fleet; its ARN."""
        _fields(params, _ENDPOINT_FIELDS)
        config = self._deployable_config(params["EndpointConfigName"])
        name = params["EndpointName"]
        arn = self.arn(common.ENDPOINT, name)
        ts = common.now()
        endpoint = Endpoint(
            description={
                "EndpointName": name,
                "EndpointArn": arn,
                "EndpointConfigName": config.name,
                "EndpointStatus": "Creating",
                "CreationTime": ts,
                "LastModifiedTime": ts,
                "ProductionVariants": self.fleet.variant_summaries(config, live=0),
            },
            tags=params.get("Tags") or [],
            servers=[],
        )
        if params.get("DeploymentConfig"):
            endpoint.set(LastDeploymentConfig=params["DeploymentConfig"])
        if not self.endpoints.create(name, endpoint):
            raise common.validation(f'Cannot create already existing endpoint "{arn}".')
        self.fleet.deploy(name, config.name, update=False)
        return arn

    def endpoint(self, name: str) -> Endpoint:
        return self.endpoints.require(name, common.could_not_find(self.settings, common.ENDPOINT))

    def update_endpoint(self, params: dict[str, Any]) -> str:
        """Deploy another config on an InService endpoint (blue/green); its ARN."""
        _fields(params, _UPDATE_FIELDS)
        if params.get("RetainAllVariantProperties") or params.get("ExcludeRetainedVariantProperties"):
            raise not_supported(
                "RetainAllVariantProperties=true (the new config's variant properties are used)"
            )
        endpoint = self.endpoint(params["EndpointName"])
        config = self._deployable_config(params["EndpointConfigName"])
        if endpoint.status != "InService":
            raise common.validation(f'Cannot update in-progress endpoint "{endpoint.arn}".')

        def updating(record: Endpoint) -> None:
            record.set(EndpointStatus="Updating", LastModifiedTime=common.now())
            record.pending_config = config.name
            record.set(FailureReason=None)
            if params.get("DeploymentConfig"):
                record.set(LastDeploymentConfig=params["DeploymentConfig"])

        self.endpoints.update(endpoint.name, updating)
        self.fleet.deploy(endpoint.name, config.name, update=True)
        return endpoint.arn

    def delete_endpoint(self, name: str) -> None:
        endpoint = self.endpoint(name)
        self.fleet.remove(endpoint)
        self.endpoints.delete(name)
        self.forget_extracted()
