"""skssl: self-supervised representation learning for tabular data."""

from . import losses, metrics
from ._classifier import ContrastiveVAEClassifier
from ._diagnostics import RepresentationCollapseWarning
from ._estimator import ContrastiveVAETransformer

__version__ = "0.1.0"

__all__ = [
    "ContrastiveVAEClassifier",
    "ContrastiveVAETransformer",
    "RepresentationCollapseWarning",
    "losses",
    "metrics",
    "__version__",
]
