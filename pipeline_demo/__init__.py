"""The project's demo: this app's pipeline run end to end on localcloud, driven as a user would.

It sits on the app's side of the tree: it knows the template's outputs (``StateMachineArn``,
``BucketName``), the execution's output shape, the HTTP API's ``/predict`` route and the sample-data
generator in ``classifier.sample_data``. localcloud knows none of that and imports nothing from here.
``make demo`` runs ``python -m pipeline_demo run``; ``pipeline-demo`` is the same command installed.
"""
