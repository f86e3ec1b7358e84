"""What the SageMaker training toolkit (sagemaker-training, the library inside SageMaker's framework
containers) reads from a training host's ``/opt/ml``: run with ``.venv-ref/bin/python`` (its
dependencies stay out of the app's venv), it prints one JSON object for
test_localcloud_sm_script_mode_differential.py.

Usage: ``python training_env_reference.py OPT_ML_DIR``. The toolkit takes its base directory from
``SAGEMAKER_BASE_DIR`` at import time (as its own tests do); its ``Environment`` then reads
``input/config/{resourceconfig,inputdataconfig,hyperparameters}.json`` and the channel folders.
Printed: ``env`` (``Environment.to_env_vars()``: the ``SM_*`` variables the toolkit gives the user
script) and ``args`` (``Environment.to_cmd_args()``).
"""

from __future__ import annotations

import json
import os
import sys


def main(base_dir: str) -> None:
    os.environ["SAGEMAKER_BASE_DIR"] = base_dir
    from sagemaker_training import environment

    env = environment.Environment()
    json.dump({"env": env.to_env_vars(), "args": env.to_cmd_args()}, sys.stdout, default=str)


if __name__ == "__main__":
    main(sys.argv[1])
