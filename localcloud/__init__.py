"""localcloud: an embedded stand-in for the few AWS services this app uses (S3, SageMaker,
SageMaker Runtime, Step Functions, Lambda, API Gateway HTTP APIs), speaking AWS's own wire
protocols on one local port so that boto3 and the AWS CLI work against it unchanged.

It imports nothing from ``pipeline``, ``classifier`` or the demo (``pipeline_demo``): it runs the app
the way the cloud does (Lambdas from template.yaml, training as a subprocess, serving through
inference.py), and the demo drives it from outside.
"""

__version__ = "0.1.0"
