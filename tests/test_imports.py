"""What ``import skssl`` loads: none of the benchmark extra's packages.

These tests run with and without the extras installed (CI runs both).
"""

import json
import subprocess
import sys

import pytest

# The "benchmark" extra's packages that skssl itself must not import.
BENCHMARK_ONLY = ("openml", "matplotlib", "tqdm", "pyarrow")
# skssl's own dependencies. When the extra is installed, some of them load
# some of its packages themselves (torch.hub imports tqdm and pandas imports
# pyarrow when they are there); what skssl adds is measured after them.
CORE = "numpy, scipy, sklearn, pandas, torch, joblib, threadpoolctl"


def run_python(code):
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    return result


@pytest.mark.parametrize("module", ["skssl", "skssl.benchmark"])
def test_import_loads_none_of_the_benchmark_extra(module):
    code = f"""
import json, sys
import {CORE}
before = set(sys.modules)
import {module}
extra = {BENCHMARK_ONLY!r}
print(json.dumps({{
    "added": sorted(m for m in set(sys.modules) - before
                    if m.split(".")[0] in extra),
    "loaded": sorted(m for m in extra if m in sys.modules),
}}))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout)
    assert modules["added"] == []
    # Without the extra (CI's core-only run), none of them is loaded at all.
    installed = [name for name in BENCHMARK_ONLY if _installed(name)]
    assert set(modules["loaded"]) <= set(installed)


def _installed(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_skssl_works_and_the_benchmark_names_its_extra_when_it_is_missing(tmp_path):
    # Hide the extra's packages (and skorch) as if they were not installed.
    code = f"""
import sys
for name in {BENCHMARK_ONLY + ("skorch",)!r}:
    sys.modules[name] = None
import warnings
import numpy as np
import skssl, skssl.benchmark
from skssl import ContrastiveVAETransformer
warnings.simplefilter("ignore")  # a one-epoch fit does not converge
ContrastiveVAETransformer(max_epochs=1, n_components=8, latent_dim=2,
                          projection_dim=4, device="cpu").fit(np.eye(8))
sys.exit(skssl.benchmark.main(["demo", "--output", {str(tmp_path)!r}]))
"""
    result = run_python(code)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert 'pip install "skssl[benchmark]"' in line and "matplotlib" in line
