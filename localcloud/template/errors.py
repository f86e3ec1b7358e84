"""The error a template problem raises; its message names where the problem is
(``Resource PredictFunction: CodeUri functions/x does not exist``)."""

from __future__ import annotations


class TemplateError(Exception):
    """A template that localcloud cannot deploy, with the resource (or section) named."""
