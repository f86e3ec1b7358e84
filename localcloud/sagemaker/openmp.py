"""OpenMP's wait policy for the PyTorch processes localcloud starts: model servers and training jobs.

On SageMaker each job and each endpoint instance has its own machine; here they share the host's
cores with each other, the edge, the clients and the Lambda workers. By default libgomp (PyTorch's
OpenMP on Linux) keeps each idle intra-op thread spinning for ~300,000 pauses (milliseconds) after
every parallel region, so a process whose threads wait takes cores from the others, and one whose
threads are preempted spins at its own barriers. :func:`brief_openmp_spin` sets
``GOMP_SPINCOUNT=1000`` in a process's environment unless that environment already chose a policy
(``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``: the model's or the job's ``Environment``, or the shell
localcloud runs in). It must be in place before PyTorch is imported: libgomp reads it when it loads.

Measured on the 2-core machine (docs/localcloud.md, "Services" and "Batched serving"):

* a resnet18 64 px forward with 2 threads, p50: quiet 12 ms (default) vs 13.7 ms (1000 spins);
  beside 2 busy processes 75-100 ms vs 42-45 ms; beside 4, 137-171 ms vs 58-61 ms (``PASSIVE``:
  18-21 ms quiet, its threads woken through the kernel at every region);
* train.py, resnet18 64 px, 2 epochs of 192 images, wall time with PyTorch's import
  (bench/parallel_training.py, 3 rounds, median): one job alone 9.5 s (default) vs 9.6 s; two jobs
  at once, as a tuning job's parallel trainings run, 27.1 s (19.7-37.2) vs 13.5 s (13.2-15.4).

Relies on the standard library only.
"""

from __future__ import annotations

from collections.abc import MutableMapping

BRIEF_SPIN = 1000
"""The ``GOMP_SPINCOUNT`` set: a brief spin still catches the microsecond gaps between a forward's
parallel regions (an idle machine keeps its speed) and stops taking cores once the work is done."""


def brief_openmp_spin(environ: MutableMapping[str, str]) -> None:
    """Set ``GOMP_SPINCOUNT`` in ``environ`` unless it chose a wait policy (module docstring)."""
    if "OMP_WAIT_POLICY" not in environ and "GOMP_SPINCOUNT" not in environ:
        environ["GOMP_SPINCOUNT"] = str(BRIEF_SPIN)
