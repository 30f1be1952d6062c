"""The training session behind the estimators, for custom loops and benchmarks.

:class:`~skssl.ContrastiveVAETransformer` is a thin scikit-learn face over one
:class:`TrainingSession`: ``fit`` starts a session and runs its epoch loop,
``partial_fit`` resumes it. The speed benchmark drives the same session step
by step.
"""

from ._devices import resolve_device
from ._objective import LOSS_TERMS, curve_attribute

__all__ = ["LOSS_TERMS", "curve_attribute", "resolve_device"]
