"""Packaging: the public API, lazy heavy imports, the console entry point."""

import ast
import io
import subprocess
import sys
import tokenize
from pathlib import Path

import sklearn_cincer


def test_public_names():
    expected = {
        "SkepticalCleaner",
        "TopFisherSelector",
        "FullFisherSelector",
        "PracticalFisherSelector",
        "InfluenceSelector",
        "NearestNeighborSelector",
        "RandomSelector",
        "SimulatedOracle",
    }
    assert expected <= set(sklearn_cincer.__all__)
    for name in sklearn_cincer.__all__:
        assert hasattr(sklearn_cincer, name), name
    assert sklearn_cincer.__version__


def test_import_does_not_load_torch_or_plotting():
    # (pandas is not checked: scikit-learn itself imports it when installed.)
    code = (
        "import sys, sklearn_cincer, sklearn_cincer.oracles, sklearn_cincer.selectors, "
        "sklearn_cincer.datasets\n"
        "heavy = [m for m in ('torch', 'skorch', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"importing sklearn_cincer loaded {out}"


# ----------------------------------------------- the direction of the imports

PACKAGE = Path(sklearn_cincer.__file__).parent


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name, path):
    """Every package module ``name`` imports, at module level or inside functions.

    ``from pkg import sub`` counts as importing ``pkg.sub`` (its parent
    package is imported by every child anyway, so it is not an edge);
    ``from pkg import attribute`` as importing ``pkg``.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def _is_nets(name):
    return name == "sklearn_cincer.nets" or name.startswith("sklearn_cincer.nets.")


def test_core_never_imports_nets():
    # The skorch adapters are registered by sklearn_cincer.nets itself
    # (sklearn_cincer._core.view_registry); no core module names nets in an import,
    # not even inside a function.
    offenders = {
        name: sorted(m for m in _imports(name, path) if _is_nets(m))
        for name, path in MODULES.items()
        if not _is_nets(name)
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_no_import_cycle():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    # Tarjan's strongly connected components: a component of two or more
    # modules is a cycle.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_core_modules_load_without_nets_or_torch():
    # (a __main__ module runs its command when imported: not a library module)
    core = sorted(
        name
        for name in MODULES
        if not _is_nets(name) and not name.endswith(".__main__")
    )
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        "    loaded = [m for m in ('sklearn_cincer.nets', 'torch', 'skorch')\n"
        "              if m in sys.modules]\n"
        "    if loaded:\n"
        "        sys.exit(f'{name} loaded {loaded}')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr + out.stdout


# ------------------------------------------------------ rooms of a fair size

_NOT_CODE = {"COMMENT", "NL", "NEWLINE", "INDENT", "DEDENT", "ENDMARKER"}


def _code_lines(text, tree):
    """The lines of ``text`` that hold code: no blank, comment or docstring line."""
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if tokenize.tok_name[token.type] not in _NOT_CODE:
            lines.update(range(token.start[0], token.end[0] + 1))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            lines -= set(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _long_functions(path, limit):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    code = _code_lines(text, tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            n = sum(first <= line <= node.end_lineno for line in code)
            if n > limit:
                yield f"{path.name}:{node.lineno} {node.name} {n}"


def test_no_function_over_80_lines_of_code():
    # A nested function counts in its outer one too: it is read as part of it.
    assert [f for path in MODULES.values() for f in _long_functions(path, 80)] == []


def test_the_line_count_sees_code_only(tmp_path):
    path = tmp_path / "example.py"
    body = "\n".join(f"    x{i} = {i}  # a comment" for i in range(81))
    path.write_text(
        f'def f():\n    """Doc.\n\n    More.\n    """\n    # why\n\n{body}\n'
    )
    found = list(_long_functions(path, 80))
    assert len(found) == 1 and found[0].endswith("f 82")  # def line + 81
    assert list(_long_functions(path, 82)) == []


# ------------------------------------------- what crosses a package folder


def _folder(name):
    """The package folder a module is a file of (a package: its own)."""
    path = MODULES[name]
    return _module_name(path.parent / "__init__.py")


def _private_imports(name, path):
    """Private names (``_x``) that ``name`` imports from another package folder."""
    found = []
    folder = _folder(name)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            package = (
                name.split(".")
                if path.name == "__init__.py"
                else (name.split(".")[:-1])
            )
            package = package[: len(package) - node.level + 1]
            base = ".".join(package + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        if base not in MODULES:
            continue
        target = _folder(base) if MODULES[base].name != "__init__.py" else base
        if target == folder:
            continue
        found += [
            f"{name}: from {base} import {a.name}"
            for a in node.names
            if a.name.startswith("_") and not a.name.startswith("__")
        ]
    return found


def test_no_private_name_crosses_a_package_folder():
    # A package's __init__ or sklearn_cincer.extend is the way across.
    offenders = [
        line
        for name, path in sorted(MODULES.items())
        for line in _private_imports(name, path)
    ]
    assert offenders == []


def test_the_numpy_core_imports_nothing_above_it():
    core = {
        name: path
        for name, path in MODULES.items()
        if name.startswith("sklearn_cincer._core")
    }
    assert "sklearn_cincer._core.fisher_math" in core
    above = {
        name: sorted(
            m for m in _imports(name, path) if not m.startswith("sklearn_cincer._core")
        )
        for name, path in core.items()
    }
    assert {k: v for k, v in above.items() if v} == {}


def test_the_cleaner_and_the_auditor_ask_through_one_engine():
    # neither borrows the other's code: both import the question engine
    for name, other in (
        ("sklearn_cincer._cleaner", "sklearn_cincer._auditor"),
        ("sklearn_cincer._auditor", "sklearn_cincer._cleaner"),
    ):
        imported = _imports(name, MODULES[name])
        assert other not in imported
        assert "sklearn_cincer._questions" in imported
