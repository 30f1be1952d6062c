import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CC18_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cc18"

# Every contrastive objective, as estimator parameters.
CONTRASTIVE_VARIANTS = {
    "infonce": {},
    "balanced": {"contrastive_loss": "balanced", "repulsion_weight": 0.8},
    "renyi": {"contrastive_loss": "renyi", "renyi_alpha": 2.0},
    "self-labeling": {"self_labeling": 0.5},
    "momentum-mixup": {"momentum_mixup": 1.0},
}


@pytest.fixture(autouse=True)
def _quiet_convergence():
    # Tests train for a handful of epochs on purpose.
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture
def cc18_dir():
    if not (CC18_DIR / "manifest.json").exists():
        pytest.skip(f"CC18 parquet folder not found at {CC18_DIR}")
    pytest.importorskip("pyarrow", reason='needs pip install "skssl[benchmark]"')
    return CC18_DIR


@pytest.fixture
def mixed_frame():
    """A small heterogeneous table: numeric (with NaN), category, object, bool."""
    rng = np.random.RandomState(0)
    n = 120
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "city": pd.Categorical(rng.choice(["paris", "lyon", "nice"], n)),
            "plan": rng.choice(["basic", "pro", "team"], n).astype(object),
            "active": rng.rand(n) > 0.5,
        }
    )
    frame.loc[rng.rand(n) < 0.1, "age"] = np.nan
    frame.loc[rng.rand(n) < 0.1, "plan"] = None
    return frame
