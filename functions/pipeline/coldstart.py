"""Python's cyclic garbage collector, paused for a Lambda container's cold start.

A cold start (importing a handler, then its first invocation) allocates some 80,000 objects
that live as long as the container: modules, classes, functions, botocore's service models and
clients, the pydantic validators. Allocating them sets off ~100 collections, each walking the
young objects again for cycles that are not there (a full collection afterwards finds under
1,000 unreachable objects): 30-60 ms of CPU, ~15% of a step's cold start. So inside Lambda
(``LAMBDA_TASK_ROOT`` set, as under localcloud's workers) the package pauses the collector when
first imported (``pause``), and the handler decorator (observability.instrumented) resumes it
once the first invocation has finished (``resume``): everything alive then is moved to the
collector's permanent generation (``gc.freeze``, meant for this: objects made once at start-up
that later collections need not walk) and collection starts again for what the invocations make.
The few cycles of start-up garbage stay frozen with the rest (a few hundred KB at most).
A collector that was already off when the package was imported is left off. Off Lambda (tests,
tools) nothing changes. Relies on the standard library's gc.
"""

from __future__ import annotations

import gc
import os

_paused = False


def pause() -> None:
    """Inside Lambda, stop automatic collection until ``resume`` (the end of the first invocation)."""
    global _paused  # noqa: PLW0603 - one flag per process, like the collector itself
    if os.environ.get("LAMBDA_TASK_ROOT") and gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze what start-up made and collect again, if ``pause`` stopped collection (else nothing)."""
    global _paused  # noqa: PLW0603
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
