"""skssl: self-supervised representation learning for tabular data."""

from . import losses, metrics
from ._classifier import ContrastiveVAEClassifier
from ._diagnostics import RepresentationCollapseWarning
from ._estimator import ContrastiveVAETransformer
from ._version import __version__

__all__ = [
    "ContrastiveVAEClassifier",
    "ContrastiveVAETransformer",
    "RepresentationCollapseWarning",
    "losses",
    "metrics",
    "__version__",
]
