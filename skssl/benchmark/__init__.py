"""Benchmark of :class:`~skssl.ContrastiveVAETransformer` features.

Run it from the command line (``skssl-benchmark --help``, or
``python -m skssl.benchmark``)::

    skssl-benchmark demo                       # offline, a few minutes
    skssl-benchmark cc18                       # OpenML-CC18 through openml
    skssl-benchmark cc18 --data-dir DIR        # a local copy of CC18

Modules, one job each:

* ``_data``: dataset sources (scikit-learn, parquet + manifest, OpenML);
* ``_methods``: the compared methods, a registry of name -> factory;
* ``_protocol``: splits, labeled subsets (``--label-fraction``) and the
  evaluation of one dataset x method x seed at its label fractions;
* ``_store``: the resumable results folder;
* ``_runner``: parallel scheduling of the pending evaluations;
* ``_report`` and ``_plots``: ``summary.md`` and the figures;
* ``_cli``: the command line.
"""

from ._cli import main
from ._methods import METHODS, MethodContext, get_method, ssl_probe
from ._runner import BenchmarkConfig, run_benchmark

__all__ = [
    "METHODS",
    "BenchmarkConfig",
    "MethodContext",
    "get_method",
    "main",
    "run_benchmark",
    "ssl_probe",
]
