"""Settings for one localcloud instance: where state lives and which ports it serves.

Values come from arguments or ``LOCALCLOUD_*`` environment variables (the ports checked by
:mod:`.environment`); everything binds to
127.0.0.1 only. Paths (the state dir, the template) are made absolute once, when the settings are
built: training jobs, Lambda workers and model servers run with other working directories, so a
relative path would name another place there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import environment


@dataclass(frozen=True)
class Settings:
    state_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("LOCALCLOUD_STATE_DIR", ".localcloud"))
    )
    host: str = "127.0.0.1"
    port: int = field(default_factory=lambda: environment.from_environ(os.environ).port)
    api_port: int = field(default_factory=lambda: environment.from_environ(os.environ).api_port)
    region: str = field(default_factory=lambda: os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    account_id: str = "000000000000"
    template: Path | None = None

    def __post_init__(self) -> None:
        # frozen dataclass: the one place these are fixed up
        object.__setattr__(self, "state_dir", Path(self.state_dir).expanduser().absolute())
        if self.template is not None:
            object.__setattr__(self, "template", Path(self.template).expanduser().absolute())

    @property
    def edge_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def arn(self, service: str, resource: str) -> str:
        """An ARN in this instance's region and account, e.g. arn("sagemaker", "training-job/x")."""
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def child_env(self) -> dict[str, str]:
        """Environment that points AWS SDKs in a child process (Lambda worker, training job) at us."""
        return {
            "AWS_ENDPOINT_URL": self.edge_url,
            "AWS_ACCESS_KEY_ID": "localcloud",
            "AWS_SECRET_ACCESS_KEY": "localcloud",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
