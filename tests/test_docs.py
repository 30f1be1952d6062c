"""The documentation's sources: the API reference lists everything public, the
configuration reads nothing from the network, and the README's Python runs as
it stands (its snippets are executed by .ci/run in a fresh venv).
"""

import ast
import builtins
import pkgutil
import re
import runpy
from pathlib import Path

import pytest

import skssl

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def api_entries():
    """Names under the autosummary directives of docs/api.rst."""
    text = (DOCS / "api.rst").read_text()
    names = set()
    for block in re.split(r"\n\.\. autosummary::\n", text)[1:]:
        for line in block.splitlines()[1:]:
            if line.startswith("   ") and not line.strip().startswith(":"):
                names.add(line.strip())
            elif line and not line.startswith(" "):
                break
    return names


def test_the_api_reference_lists_every_public_name():
    public_modules = {
        module.name
        for module in pkgutil.iter_modules(skssl.__path__)
        if not module.name.startswith("_") and module.name != "benchmark"
    }
    exported = set(skssl.__all__) - {"__version__"}
    assert {"losses", "metrics", "training"} <= public_modules
    assert exported | public_modules == api_entries()


@pytest.mark.parametrize("setting", [None, "1"])
def test_intersphinx_only_when_asked_for(monkeypatch, setting):
    # The build must not need the network: no intersphinx unless it is set.
    if setting is None:
        monkeypatch.delenv("SKSSL_DOCS_INTERSPHINX", raising=False)
    else:
        monkeypatch.setenv("SKSSL_DOCS_INTERSPHINX", setting)
    conf = runpy.run_path(str(DOCS / "conf.py"))
    assert ("sphinx.ext.intersphinx" in conf["extensions"]) is (setting == "1")


def python_blocks(markdown):
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_readme_snippets_define_what_they_use():
    # Every name a README snippet reads is imported or assigned in it, so that
    # it runs verbatim (X, y and the data come from scikit-learn's datasets).
    for code in python_blocks((ROOT / "README.md").read_text()):
        tree = ast.parse(code)
        defined = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
        read = {
            node.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        }
        assert read - defined - set(dir(builtins)) == set(), code
