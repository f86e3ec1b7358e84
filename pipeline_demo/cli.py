"""The ``pipeline-demo`` command: ``run`` (the whole pipeline, ``make demo``) and ``predict``.

Both take localcloud's common options (``--state-dir``, ``--port``, ``--api-port``) and end a
user's mistake with one line and exit status 1, as the ``localcloud`` command does (its
:func:`localcloud.cli.report_errors`). Relies on argparse.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
from pathlib import Path

from localcloud.cli import CliError, common_options, report_errors, settings_from_args

from .demo import main_from_args, predict

DESCRIPTION = (
    "The image-classification pipeline on this machine, on localcloud: `run` tunes, retrains, deploys "
    "and predicts; `predict` posts an image to the deployed HTTP API."
)


def cmd_run(args: argparse.Namespace) -> int:
    return main_from_args(settings_from_args(args), args.data, args.input, args.once, new=args.new)


def cmd_predict(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    image = Path(args.image)
    if not image.is_file():
        raise CliError(f"{args.image}: no such file (give the path of a JPEG, PNG or WebP image)")
    try:
        status, body = predict(settings.api_url, image)
    except urllib.error.URLError as exc:
        raise CliError(
            f"nothing answers on {settings.api_url} ({exc.reason}): start localcloud with "
            "`localcloud up` (or `make demo`), or pass --api-port if it serves another port"
        ) from None
    print(json.dumps(body, indent=2))
    return 0 if status == 200 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipeline-demo", description=DESCRIPTION)
    common = common_options()
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run the whole pipeline locally (the main job)")
    run.add_argument(
        "--data",
        help="ImageFolder root with train/ valid/ test/ (default: a generated 4-class sample dataset)",
    )
    run.add_argument(
        "--input",
        default="examples/local-input.json",
        help="execution input file, see docs/contracts.md (default: %(default)s)",
    )
    run.add_argument("--template", default="template.yaml", help="SAM template (default: %(default)s)")
    run.add_argument(
        "--once",
        action="store_true",
        help="exit after the first prediction instead of serving until Ctrl-C (default: off)",
    )
    run.add_argument(
        "--new",
        action="store_true",
        help="start a new execution even when one is still running (default: follow the running one)",
    )
    run.set_defaults(func=cmd_run)

    pred = sub.add_parser("predict", parents=[common], help="POST an image to the local HTTP API")
    pred.add_argument("image", help="a JPEG, PNG or WebP file")
    pred.set_defaults(func=cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return report_errors(f"pipeline-demo {args.command}", args)
