"""Image classifier training and serving package (the SageMaker source_dir's library).

train.py (SageMaker script mode) and inference.py (SageMaker PyTorch serving handlers) are thin
entry points over these modules. Importing this package is cheap: it imports nothing heavy, so
the serving artifact (``code/classifier``) loads only what inference needs.
"""

__version__ = "0.1.0"
