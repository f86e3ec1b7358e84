"""Writes functions/pipeline/botocore_data/: the part of botocore's data the functions' clients load.

A Lambda cold start that makes a SageMaker client spends most of its client time in botocore's
Loader: SageMaker's ``service-2.json.gz`` (2.6 MB of JSON, every operation SageMaker has) takes
~170 ms to parse, ``endpoints.json`` (1.2 MB, every service in every region) ~40 ms, and finding
a service at all lists each of the ~440 folders of botocore/data (~30-60 ms). The functions call
15 SageMaker operations, 3 of S3 and 1 of SageMaker Runtime, so the package ships, in the layout
botocore's Loader reads, what their three clients load and nothing else:

- ``<service>/<api-version>/service-2.json`` per client, holding only the operations the code
  calls (``OPERATIONS``) and the shapes they reach (plus ``EXTRA_SHAPES``: the instance-type enums
  execution_input.py checks), documentation left out (botocore only uses it for docstrings);
- each service's ``endpoint-rule-set-1.json`` and any ``*.sdk-extras.json``, as botocore has them;
- ``endpoints.json`` with every partition and region, and the services of those three clients;
- ``partitions.json`` and ``sdk-default-configuration.json``, as botocore has them.

Every file is botocore's own data, cut down (JSON, compact); pipeline/aws.py hands it to botocore's
``Loader`` as its only search path. The source is the installed botocore, which must be the
version requirements.lock pins (the layer's). ``--check`` writes nothing and exits 1 when the
committed folder differs from what the installed botocore generates
(tests/unit/pipeline/test_pipeline_botocore_data.py runs it). Hand-written: botocore offers no
way to slice a service model; this relies on botocore's Loader and the standard library.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore
from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "functions" / "pipeline" / "botocore_data"
LOCK = ROOT / "requirements.lock"

# The operations the functions call, per client (tests check the code calls no other).
OPERATIONS: dict[str, tuple[str, ...]] = {
    "sagemaker": (
        "CreateEndpoint",
        "CreateEndpointConfig",
        "CreateHyperParameterTuningJob",
        "CreateModel",
        "CreateTrainingJob",
        "DescribeEndpoint",
        "DescribeEndpointConfig",
        "DescribeHyperParameterTuningJob",
        "DescribeModel",
        "DescribeTrainingJob",
        "ListTags",
        "ListTrainingJobsForHyperParameterTuningJob",
        "StopHyperParameterTuningJob",
        "StopTrainingJob",
        "UpdateEndpoint",
    ),
    "s3": ("GetObject", "HeadObject", "PutObject"),
    "sagemaker-runtime": ("InvokeEndpoint",),
}
# Shapes read directly (execution_input.sagemaker_enum), kept even if no operation reached them.
EXTRA_SHAPES: dict[str, tuple[str, ...]] = {
    "sagemaker": ("TrainingInstanceType", "ProductionVariantInstanceType"),
}
COMMON_FILES = ("partitions", "sdk-default-configuration")
SERVICE_FILES = ("endpoint-rule-set-1", "service-2.sdk-extras", "endpoint-rule-set-1.sdk-extras")


def _shape_refs(shape: Mapping[str, Any]) -> Iterator[str]:
    for member in shape.get("members", {}).values():
        yield member["shape"]
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]


def _operation_refs(operation: Mapping[str, Any]) -> Iterator[str]:
    for key in ("input", "output"):
        if key in operation:
            yield operation[key]["shape"]
    for error in operation.get("errors", []):
        yield error["shape"]


def _reachable(shapes: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(_shape_refs(shapes[name]))
    return seen


def _undocumented(node: Mapping[str, Any]) -> dict[str, Any]:
    """``node`` without its ``documentation`` (one level: an operation or a shape and its members)."""
    out = {key: value for key, value in node.items() if key != "documentation"}
    if "members" in out:
        out["members"] = {
            name: {k: v for k, v in member.items() if k != "documentation"}
            for name, member in out["members"].items()
        }
    return out


def trim_service_model(
    model: Mapping[str, Any], operations: Iterable[str], extra: Iterable[str] = ()
) -> dict[str, Any]:
    """``model`` with only ``operations`` and the shapes they (and ``extra``) reach."""
    all_operations = model["operations"]
    missing = [name for name in operations if name not in all_operations]
    if missing:
        raise SystemExit(f"{model['metadata']['serviceId']} has no operation {', '.join(missing)}")
    kept_operations = {name: _undocumented(all_operations[name]) for name in operations}
    roots = [ref for operation in kept_operations.values() for ref in _operation_refs(operation)]
    kept_shapes = _reachable(model["shapes"], [*roots, *extra])
    return {
        "version": model["version"],
        "metadata": model["metadata"],
        "operations": kept_operations,
        "shapes": {
            name: _undocumented(shape) for name, shape in model["shapes"].items() if name in kept_shapes
        },
    }


def trim_endpoints(endpoints: Mapping[str, Any], prefixes: set[str]) -> dict[str, Any]:
    """Every partition (its regions, defaults, DNS suffixes) with only the services in ``prefixes``."""
    partitions = []
    for partition in endpoints["partitions"]:
        kept = dict(partition)
        kept["services"] = {name: value for name, value in partition["services"].items() if name in prefixes}
        partitions.append(kept)
    return {**endpoints, "partitions": partitions}


def generate(loader: Loader) -> dict[str, Any]:
    """``relative path (no .json) -> JSON document`` of everything the folder holds."""
    files: dict[str, Any] = {name: loader.load_data(name) for name in COMMON_FILES}
    prefixes = set()
    for service, operations in OPERATIONS.items():
        version = loader.determine_latest_version(service, "service-2")
        model = loader.load_data(f"{service}/{version}/service-2")
        prefixes.add(model["metadata"]["endpointPrefix"])
        files[f"{service}/{version}/service-2"] = trim_service_model(
            model, operations, EXTRA_SHAPES.get(service, ())
        )
        for name in SERVICE_FILES:
            try:
                files[f"{service}/{version}/{name}"] = loader.load_data(f"{service}/{version}/{name}")
            except DataNotFoundError:
                continue
    files["endpoints"] = trim_endpoints(loader.load_data("endpoints"), prefixes)
    return files


def render(document: Any) -> str:
    return json.dumps(document, separators=(",", ":")) + "\n"


def locked_botocore_version(lock_text: str) -> str:
    for line in lock_text.splitlines():
        if line.startswith("botocore=="):
            return line.split("==")[1].split()[0]
    raise SystemExit("requirements.lock pins no botocore")


def committed(target: Path) -> dict[str, str]:
    return {
        path.relative_to(target).as_posix().removesuffix(".json"): path.read_text()
        for path in sorted(target.rglob("*.json"))
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing; exit 1 on a difference")
    parser.add_argument("--target", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    pinned = locked_botocore_version(LOCK.read_text())
    if botocore.__version__ != pinned:
        print(f"installed botocore {botocore.__version__} is not the lock's {pinned}", file=sys.stderr)
        return 1
    wanted = {name: render(document) for name, document in generate(Loader()).items()}
    if args.check:
        if committed(args.target) != wanted:
            print(
                f"{args.target} differs from botocore {pinned}'s data: run scripts/botocore_data.py",
                file=sys.stderr,
            )
            return 1
        return 0
    shutil.rmtree(args.target, ignore_errors=True)
    for name, text in wanted.items():
        path = args.target / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(wanted)} files to {args.target} (botocore {pinned})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
