"""localcloud's common options (--port, --api-port) and the environment variables behind their
defaults: a bad value is a one-line argument error naming the option and the variable, for
``localcloud`` and for the demo, never a traceback or a server started on a port nobody can reach."""

from __future__ import annotations

import pytest

from localcloud import cli
from pipeline_demo import cli as demo_cli


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"LOCALCLOUD_PORT": "abc"}, [], "argument --port: 'abc' is not a port number"),
        ({"LOCALCLOUD_API_PORT": "3000.5"}, [], "argument --api-port: '3000.5' is not a port number"),
        ({}, ["--port", "0"], "argument --port: '0' is not a port number (1-65535"),
        ({}, ["--api-port", "70000"], "argument --api-port: '70000' is not a port number"),
        ({"LOCALCLOUD_PORT": "abc"}, ["--port", "-1"], "argument --port: '-1' is not a port number"),
    ],
)
@pytest.mark.parametrize("main", [cli.main, demo_cli.main], ids=["localcloud", "pipeline-demo"])
def test_bad_ports_are_argument_errors(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    main: object,
    env: dict[str, str],
    args: list[str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    command = ["status"] if main is cli.main else ["run", "--once"]
    with pytest.raises(SystemExit) as exit_:
        main([*command, *args])  # type: ignore[operator]
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    variable = "LOCALCLOUD_API_PORT" if "--api-port" in message else "LOCALCLOUD_PORT"
    assert variable in err, err


def test_ports_from_the_environment_and_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALCLOUD_PORT", "4567")
    monkeypatch.delenv("LOCALCLOUD_API_PORT", raising=False)
    args = cli.build_parser().parse_args(["status"])
    assert (args.port, args.api_port) == (4567, 3000)
    args = cli.build_parser().parse_args(["status", "--port", "65535", "--api-port", "1"])
    assert (args.port, args.api_port) == (65535, 1)
    monkeypatch.setenv("LOCALCLOUD_PORT", "")  # set but empty: the default, as before
    assert cli.build_parser().parse_args(["status"]).port == 4566
