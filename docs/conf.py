"""Sphinx configuration of skssl's documentation.

Build: ``python -m sphinx -W -b html docs docs/_build`` after
``pip install -e ".[docs]"``. The build reads nothing from the network:
intersphinx links to scikit-learn, NumPy and PyTorch are off unless
``SKSSL_DOCS_INTERSPHINX=1`` is set.
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

import skssl  # noqa: E402

project = "skssl"
author = "skssl developers"
copyright = "skssl developers, BSD-3-Clause"
release = version = skssl.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
if os.environ.get("SKSSL_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
    }

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples", "auto_examples/*.ipynb"]
# User-guide pages listed in its toctree only where the file exists: the
# "<!-- optional pages -->" line of user_guide.md becomes their names.
OPTIONAL_PAGES = ("persistence",)

# API reference: one page per estimator from autosummary, numpydoc sections.
autosummary_generate = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False

# Markdown pages (the README, the design notes and the results) through MyST.
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Every plot_*.py runs during the build and its figures go on its page.
    "filename_pattern": r"/plot_",
    # Measurement scripts (minutes of work, command-line options) stay out.
    "ignore_pattern": r"(fit_memory|search_threads)\.py$",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skssl",),
    "backreferences_dir": None,
    "show_memory": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skssl {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False


def _list_optional_pages(app, docname, source):
    if docname == "user_guide":
        present = [name for name in OPTIONAL_PAGES if (DOCS / f"{name}.md").exists()]
        source[0] = source[0].replace("<!-- optional pages -->", "\n".join(present))


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out members scikit-learn generates (``set_fit_request``, ...)."""
    if what == "class" and getattr(obj, "__module__", "").startswith("sklearn."):
        return True
    return None


def setup(app):
    app.connect("source-read", _list_optional_pages)
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
