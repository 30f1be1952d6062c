"""skssl: self-supervised representation learning for tabular data."""

from . import losses, metrics
from ._estimator import ContrastiveVAETransformer, RepresentationCollapseWarning

__version__ = "0.1.0"

__all__ = [
    "ContrastiveVAETransformer",
    "RepresentationCollapseWarning",
    "losses",
    "metrics",
    "__version__",
]
