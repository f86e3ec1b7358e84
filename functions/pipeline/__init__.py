"""The pipeline's Lambda functions: one module per function, plus the pure helpers they share.

Handlers (``pipeline.<module>.handler``) stay thin: they read the environment, take the
container's AWS clients (aws.py, made once) and call plain functions that take those clients as
arguments, so every request and every branch is unit-tested with botocore's Stubber. Relies on
botocore (in the Lambda runtime), aws-lambda-powertools (with aws-xray-sdk for its Tracer),
pydantic (the layer, layers/dependencies/requirements.txt); ``botocore_data/`` holds the
trimmed botocore models the clients load (aws.py, scripts/botocore_data.py). Imports nothing from
``classifier`` or ``localcloud``: the same code runs on AWS and under localcloud, which only
points ``AWS_ENDPOINT_URL`` elsewhere.
"""

import os

from . import coldstart

coldstart.pause()  # inside Lambda: no garbage collection until the first invocation ends (coldstart.py)

# The functions use no pydantic plugin: spare each cold start pydantic's search for one (on the
# first model built it reads the entry points of every installed distribution, ~5 ms here).
# An environment that sets the variable itself keeps its value.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
