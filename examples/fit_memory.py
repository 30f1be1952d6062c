"""How much memory ``fit`` takes beyond the table it is given.

Builds a synthetic table (float32 numeric columns, optionally categorical
columns and missing values), then samples the process's resident memory every
5 ms while ``ContrastiveVAETransformer(max_epochs=1).fit`` runs, and prints the
peak above the resident memory just before the fit. Linux only (reads
``/proc/self/statm``). Examples::

    python examples/fit_memory.py --rows 200000 --columns 500
    python examples/fit_memory.py --rows 200000 --columns 20 --categorical 5 \\
        --missing 0.1 --early-stopping
"""

import argparse
import os
import threading
import time
import warnings

import numpy as np
import pandas as pd

from skssl import ContrastiveVAETransformer

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES / 2**20


def table(n_rows, n_columns, n_categorical, missing, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_columns), dtype=np.float32)
    if missing:
        X[rng.random((n_rows, n_columns)) < missing] = np.nan
    if not n_categorical:
        return X
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(n_columns)], copy=False)
    for j in range(n_categorical):
        codes = rng.integers(0, 20, n_rows)
        frame[f"c{j}"] = pd.Categorical.from_codes(codes, [f"v{i}" for i in range(20)])
    return frame


def peak_during(function):
    """``function()``'s peak resident memory above the level before it, in MB."""
    before = resident_mb()
    peak, running = before, True

    def sample():
        nonlocal peak
        while running:
            peak = max(peak, resident_mb())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        function()
    finally:
        running = False
        sampler.join()
    return max(peak, resident_mb()) - before


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--columns", type=int, default=500, help="numeric columns")
    parser.add_argument("--categorical", type=int, default=0)
    parser.add_argument("--missing", type=float, default=0.0, help="share of NaN")
    parser.add_argument("--early-stopping", action="store_true")
    args = parser.parse_args()

    X = table(args.rows, args.columns, args.categorical, args.missing)
    numeric_mb = args.rows * args.columns * 4 / 2**20
    estimator = ContrastiveVAETransformer(
        max_epochs=1, early_stopping=args.early_stopping, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch: a ConvergenceWarning
        extra_mb = peak_during(lambda: estimator.fit(X))
    print(
        f"{args.rows:,} rows x {args.columns} numeric (float32, {numeric_mb:,.0f} MB)"
        f" + {args.categorical} categorical, missing {args.missing:.0%}, "
        f"early_stopping={args.early_stopping}: fit peak {extra_mb:,.0f} MB above "
        f"the memory before it ({extra_mb / numeric_mb:.1f}x the numeric table)"
    )


if __name__ == "__main__":
    main()
