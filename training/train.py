"""SageMaker script-mode entry point: train an image classifier (docs/contracts.md#training-script).

Runs unchanged on SageMaker (PyTorch DLC), under localcloud and by hand:

    SM_CHANNEL_TRAIN=data/train SM_CHANNEL_VALID=data/valid SM_CHANNEL_TEST=data/test \
    SM_MODEL_DIR=out/model SM_OUTPUT_DATA_DIR=out/output python training/train.py \
        --arch resnet18 --pretrained none --epochs 4

The work is done by :mod:`classifier.job`; every hyperparameter is listed in the README's
"Training script reference".
"""

import time

PROCESS_START = time.time()  # before the heavy imports: MaxInitializationTime measures from here

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from classifier.job import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], process_start=PROCESS_START, script=Path(__file__)))
