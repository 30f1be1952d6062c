import warnings

import pytest

from tests._helpers import CC18_DIR, cc18_available, make_mixed_frame


@pytest.fixture(autouse=True)
def _quiet_convergence():
    # Tests train for a handful of epochs on purpose.
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture
def quiet():
    """Every warning silenced (small data and few epochs, on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture
def cc18_dir():
    if not cc18_available():
        pytest.skip(f"CC18 parquet folder not found at {CC18_DIR}")
    pytest.importorskip("pyarrow", reason='needs pip install "skssl[benchmark]"')
    return CC18_DIR


@pytest.fixture
def mixed_frame():
    """A small heterogeneous table: numeric (with NaN), category, object, bool."""
    return make_mixed_frame()
