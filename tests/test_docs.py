"""Checks of the documentation that do not need Sphinx.

- Every public name (``__all__`` of the package and its public subpackages)
  is listed in the API reference (``docs/api.rst``).
- Every public class and function has a numpydoc ``Examples`` section (the
  doctests themselves run with ``--doctest-modules``, see setup.cfg).
- The ``>>>`` examples of the user guide pages run.
- The ``python`` blocks of README.md run as written, each on its own.
"""

import doctest
import importlib
import importlib.util
import inspect
import re
import warnings
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = DOCS.parent / "README.md"
MODULES = [
    "sklearn_cincer",
    "sklearn_cincer.oracles",
    "sklearn_cincer.selectors",
    "sklearn_cincer.extend",
    "sklearn_cincer.datasets",
    "sklearn_cincer.benchmark",
    "sklearn_cincer.nets",
]
HAS_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "skorch"))


def _public(module_name):
    if module_name == "sklearn_cincer.nets" and not HAS_TORCH:
        pytest.skip("sklearn_cincer.nets needs torch and skorch ('.[torch]')")
    module = importlib.import_module(module_name)
    return module, [name for name in module.__all__ if name != "__version__"]


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_is_in_the_api_reference(module_name):
    api = (DOCS / "api.rst").read_text()
    module, names = _public(module_name)
    sections = re.split(r"^\.\. currentmodule:: ", api, flags=re.MULTILINE)
    listed = set()
    for section in sections[1:]:
        current, body = section.split("\n", 1)
        for line in body.splitlines():
            match = re.match(r"^   ([A-Za-z_][A-Za-z0-9_]*)$", line)
            if match:
                listed.add(f"{current.strip()}.{match.group(1)}")
    missing = []
    for name in names:
        obj = getattr(module, name)
        # A name re-exported from the top-level package is documented there.
        here = f"{module_name}.{name}"
        top = f"sklearn_cincer.{name}"
        if here not in listed and not (
            top in listed
            and getattr(importlib.import_module("sklearn_cincer"), name, None) is obj
        ):
            missing.append(name)
    assert not missing, f"add to docs/api.rst: {missing}"


def _documented_objects():
    seen = {}
    for module_name in MODULES:
        if module_name == "sklearn_cincer.nets" and not HAS_TORCH:
            continue
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            documented = inspect.isclass(obj) or inspect.isfunction(obj)
            if documented and id(obj) not in seen:
                seen[id(obj)] = (f"{module_name}.{name}", obj)
    return sorted(seen.values(), key=lambda item: item[0])


OBJECTS = _documented_objects()


@pytest.mark.parametrize("qualname, obj", OBJECTS, ids=[q for q, _ in OBJECTS])
def test_public_docstring_has_examples(qualname, obj):
    doc = inspect.getdoc(obj) or ""
    assert re.search(r"^Examples\n--------$", doc, flags=re.MULTILINE), (
        f"{qualname} has no numpydoc Examples section"
    )
    assert ">>>" in doc.split("Examples\n--------", 1)[1]


GUIDE_PAGES = sorted(
    p
    for p in DOCS.rglob("*.rst")
    if ">>>" in p.read_text()
    and not any(
        part in p.parts
        for part in ("_build", "generated", "auto_examples", "gen_modules")
    )
)


def test_the_guide_has_doctests():
    names = {p.name for p in GUIDE_PAGES}
    assert {"quick_start.rst", "oracles.rst"} <= names, names


@pytest.mark.parametrize("page", GUIDE_PAGES, ids=[p.name for p in GUIDE_PAGES])
def test_guide_page_examples_run(page):
    test = doctest.DocTestParser().get_doctest(
        page.read_text(), {"__name__": "__main__"}, page.name, str(page), 0
    )
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    # The page's names stay alive after it ran, as in a user's session: a
    # model family it registers (extending.rst) has a predicate that reads
    # them, and registrations last for the whole test process.
    result = runner.run(test, clear_globs=False)
    assert result.failed == 0, f"{result.failed} failing examples in {page.name}"


README_BLOCKS = re.findall(
    r"^```python\n(.*?)^```$", README.read_text(), flags=re.MULTILINE | re.DOTALL
)


def test_the_readme_has_python_blocks():
    # the "Use" section's cleaner and auditor, at least
    assert len(README_BLOCKS) >= 2
    assert any("SkepticalCleaner(" in b and "partial_fit" in b for b in README_BLOCKS)
    assert any("LabelAuditor(" in b for b in README_BLOCKS)


@pytest.mark.parametrize(
    "block", README_BLOCKS, ids=[f"block{i}" for i in range(len(README_BLOCKS))]
)
def test_readme_python_blocks_run_as_written(block):
    # Each block alone, in a fresh namespace: a snippet that leans on a name
    # it does not define fails here as it would for a reader. A warning
    # (a model that does not converge) fails too.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(block, str(README), "exec"), {"__name__": "__readme__"})
