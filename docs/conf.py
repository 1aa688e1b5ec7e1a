"""Sphinx configuration of the sklearn-cincer documentation.

Build (from the repository root, warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Environment variables:

- ``SKLEARN_CINCER_DOCS_GALLERY=0`` builds without executing the gallery
  examples (their pages show the code, no output); ``tests/test_examples.py``
  runs every example instead. Default: execute.
- ``SKLEARN_CINCER_DOCS_BLAS_THREADS`` (default 1): BLAS threads while the
  examples run.
- ``SKLEARN_CINCER_DOCS_INTERSPHINX=1`` links names of scikit-learn, numpy,
  scipy, skorch, torch and Python to their documentation. It downloads their
  inventories, so it is off by default: an offline build with ``-W`` would
  fail on the unreachable inventories. Without it those names are plain text.
"""

import os
import re
import warnings
from pathlib import Path

import sklearn_cincer

HERE = Path(__file__).resolve().parent

project = "sklearn-cincer"
author = "The sklearn-cincer developers"
copyright = "2026, The sklearn-cincer developers"
version = release = sklearn_cincer.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

INTERSPHINX = os.environ.get("SKLEARN_CINCER_DOCS_INTERSPHINX", "0") == "1"
if INTERSPHINX:
    extensions.append("sphinx.ext.intersphinx")
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable/", None),
    "torch": ("https://docs.pytorch.org/docs/stable/", None),
    "pandas": ("https://pandas.pydata.org/docs/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
}

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
]
root_doc = "index"
default_role = "literal"

# -- autodoc / autosummary / numpydoc ---------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False
# The "See Also" sections name classes by their short name; numpydoc resolves
# them within the current module.
numpydoc_xref_param_type = False

# -- sphinx-gallery ----------------------------------------------------------
EXECUTE_GALLERY = os.environ.get("SKLEARN_CINCER_DOCS_GALLERY", "1") != "0"
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": "True" if EXECUTE_GALLERY else "False",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_cincer",),
    "reference_url": {"sklearn_cincer": None},
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "abort_on_example_error": True,
    "min_reported_time": 1,
    "download_all_examples": False,
}

# One BLAS thread while the examples run (``SKLEARN_CINCER_DOCS_BLAS_THREADS``
# to change it): they solve many small problems, and on a busy 2-core machine a
# multi-threaded BLAS spins for most of its time (the gallery took 19 s on a
# quiet machine and over 4 minutes next to other jobs). The tests do the same
# (conftest.py).
from threadpoolctl import threadpool_limits  # noqa: E402  (a scikit-learn dependency)

_BLAS_LIMIT = threadpool_limits(
    int(os.environ.get("SKLEARN_CINCER_DOCS_BLAS_THREADS", "1")), user_api="blas"
)

# Examples write nothing but their figures; silence the noisy warnings of
# third-party code so that -W only fails on problems of the docs themselves.
warnings.filterwarnings(
    "ignore", category=UserWarning, message="Matplotlib is currently using agg"
)
os.environ.setdefault("MPLBACKEND", "Agg")

# Figures made by the gallery appear in the user guide only when the gallery
# runs; ``.. only:: gallery_executed`` blocks are dropped from the source
# otherwise (an ``only`` block still warns about its missing image).
_ONLY_BLOCK = re.compile(
    r"^\.\. only:: gallery_executed\n(?:(?:[ \t]+.*)?\n)*", re.MULTILINE
)


def _drop_gallery_figures(app, docname, source):
    if not EXECUTE_GALLERY:
        source[0] = _ONLY_BLOCK.sub("", source[0])


def setup(app):
    if EXECUTE_GALLERY:
        app.tags.add("gallery_executed")
    app.connect("source-read", _drop_gallery_figures)


# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = f"sklearn-cincer {release}"
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "secondary_sidebar_items": ["page-toc"],
    "show_prev_next": True,
    "navigation_with_keys": False,
}
html_show_sourcelink = False
html_context = {"default_mode": "light"}

# The math of the user guide is rendered by MathJax, which the page loads from
# a CDN; offline, the TeX source stays readable.
