"""The examples gallery (examples/): every file compiles, every gallery file has
the title sphinx-gallery needs, and the collapse example collapses.

The documentation build (.ci/run) runs every ``plot_*.py``; the collapse
example runs here too because what it shows is a claim about the package.
"""

import ast
import runpy
from pathlib import Path

import pytest

from skssl._diagnostics import UNIFORMITY_COLLAPSE

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GALLERY = sorted(EXAMPLES.glob("plot_*.py"))


def test_there_is_a_gallery():
    assert len(GALLERY) >= 4


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_example_compiles(path):
    compile(path.read_text(), str(path), "exec")


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.name)
def test_gallery_example_opens_with_a_title(path):
    # sphinx-gallery takes the page title from the docstring's first line,
    # underlined with "=" of at least its length.
    docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    assert docstring is not None, f"{path.name} has no docstring"
    title, underline = docstring.strip("\n").splitlines()[:2]
    assert title.strip() and set(underline) == {"="}
    assert len(underline) >= len(title)


def test_collapse_example_collapses():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        namespace = runpy.run_path(str(EXAMPLES / "plot_collapse_diagnostics.py"))
    finally:
        plt.close("all")
    models, warned = namespace["models"], namespace["collapse_warnings"]
    healthy, collapsing = models["healthy"], models["collapsing"]
    assert collapsing.effective_rank_ < healthy.effective_rank_
    assert warned["collapsing"] and "collapsed" in warned["collapsing"][0]
    assert not warned["healthy"]
    # Uniformity is what the warning reads: the embeddings in a narrow cone.
    final = {k: m.representation_history_["uniformity"][-1] for k, m in models.items()}
    assert final["collapsing"] > UNIFORMITY_COLLAPSE > final["healthy"]
