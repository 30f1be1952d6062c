"""skssl: self-supervised representation learning for tabular data."""

from ._estimator import ContrastiveVAETransformer

__version__ = "0.1.0"

__all__ = ["ContrastiveVAETransformer", "__version__"]
