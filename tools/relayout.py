"""Move the package to the layout of docs/developers/layout.rst, on any checkout.

Run from the repository root, on a clean work tree (commit first)::

    python tools/relayout.py            # move, rewrite, print what it did
    python tools/relayout.py --dry-run  # print what it would do, change nothing

It moves modules with ``git mv`` (so history follows them), then rewrites
every import of a moved module, and every dotted or file path that names
one, in ``sklearn_cincer/``, ``tests/``, ``benchmarks/``, ``docs/``,
``examples/``, ``README.md``, ``CONTRIBUTING.md`` and ``conftest.py``.
Python imports are rewritten from their syntax tree (each statement at its
own lines, resolved from where its file stood, written for where it stands
now), so code written after this script, on another branch, that imports an
old path is rewritten too. Other text is rewritten by anchored patterns (a
module path followed by no further name character). The CHANGELOG is
history and is left as it is.

A second run finds nothing to move and nothing to rewrite, and says so:
the script is idempotent. It refuses to start on a work tree with
uncommitted changes (``--force`` overrides), so that its result is one
reviewable diff.

Afterwards ``ruff check --fix --select I,F401`` sorts the rewritten imports.
``--format`` runs ``ruff format`` over the tree too (left out by default:
that diff is mechanical but touches most files).
"""

import argparse
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = "sklearn_cincer"

# old module -> new module (dotted, from the package)
MOVES = {
    "sklearn_cincer._fisher": "sklearn_cincer._core.fisher_math",
    "sklearn_cincer._models": "sklearn_cincer._core.last_layer",
    "sklearn_cincer._parameters": "sklearn_cincer._core.parameter_views",
    "sklearn_cincer._adapters": "sklearn_cincer._core.view_registry",
    "sklearn_cincer._dask": "sklearn_cincer._core.dask_passes",
    "sklearn_cincer._cli": "sklearn_cincer._cli",  # a module becomes a package
    "sklearn_cincer._clean": "sklearn_cincer._cli.clean",
    "sklearn_cincer._audit_cli": "sklearn_cincer._cli.audit",
    "sklearn_cincer._demo": "sklearn_cincer._cli.demo",
    "sklearn_cincer._csvtext": "sklearn_cincer._cli.csv_text",
    "sklearn_cincer._clean_files": "sklearn_cincer._cli.output_files",
    "sklearn_cincer.selectors._fisher": "sklearn_cincer.selectors._top_fisher",
}

# The module that is split: these top-level definitions (and the private
# helpers only they use) leave it for their own module.
SPLIT_FROM = "sklearn_cincer.selectors._top_fisher"
SPLIT_TO = "sklearn_cincer.selectors._full_fisher"
SPLIT_NAMES = ("_AllParameterSelector", "FullFisherSelector", "PracticalFisherSelector")

# Private names used across package folders, made public where they stand.
RENAMES = {"_as_row": "as_row", "_with_bias": "with_bias", "_eigh": "psd_eigh"}
RENAME_IN = ("sklearn_cincer/", "tests/", "benchmarks/", "examples/", "docs/")

NEW_FILES = {
    "sklearn_cincer/_core/__init__.py": '''"""The numpy core: the Fisher math and the views of a model it reads.

``fisher_math`` (gradients, Fisher blocks, factors and solves),
``last_layer`` (a classifier's last layer: features, outputs, link),
``parameter_views`` (every parameter of a model, for the all-parameter
selectors), ``view_registry`` (how a model family registers its views) and
``dask_passes`` (the same passes over Dask arrays). It imports nothing of
the rest of the package; the public way in is :mod:`sklearn_cincer.extend`.
"""
''',
    "sklearn_cincer/_cli/__main__.py": '''"""``python -m sklearn_cincer._cli``: the ``sklearn-cincer`` command."""

import sys

from . import main

sys.exit(main())
''',
}

TEXT_ROOTS = ("sklearn_cincer", "tests", "benchmarks", "docs", "examples")
TEXT_FILES = ("README.md", "CONTRIBUTING.md", "conftest.py")
TEXT_SUFFIXES = {
    ".py",
    ".rst",
    ".md",
    ".txt",
    ".toml",
    ".cfg",
    ".ini",
    ".yaml",
    ".yml",
    ".json",
}
SELF = Path("tools/relayout.py")


def module_path(dotted, package=False):
    parts = dotted.split(".")
    return Path(*parts, "__init__.py") if package else Path(*parts).with_suffix(".py")


def file_moves():
    """(old file, new file) for each move; a module that becomes a package
    moves to its ``__init__.py``."""
    moves = []
    for old, new in MOVES.items():
        moves.append((module_path(old), module_path(new, package=old == new)))
    return moves


# ------------------------------------------------------------------ moving


def git(*args, dry_run=False, check=True):
    if dry_run:
        print("would run: git " + " ".join(args))
        return ""
    return subprocess.run(
        ["git", *args], check=check, capture_output=True, text=True
    ).stdout


def move_files(dry_run):
    """Move what is still at its old place; returns the lines to print and
    the (old, new) paths moved."""
    done, moved = [], []
    for old, new in file_moves():
        if not old.exists():
            if new.exists():
                continue  # moved by an earlier run
            sys.exit(
                f"relayout: neither {old} nor {new} exists; is this the "
                "repository's root?"
            )
        if new.exists():
            sys.exit(
                f"relayout: both {old} and {new} exist: a branch added the "
                "old module back after the move; merge it into the new one "
                "by hand, then run again."
            )
        if not dry_run:
            new.parent.mkdir(parents=True, exist_ok=True)
        if old.parent == new.parent.parent and old.stem == new.parent.name:
            # a module becomes a package of its name: through a temporary name
            temp = old.with_name(old.stem + "_relayout_tmp.py")
            git("mv", str(old), str(temp), dry_run=dry_run)
            if not dry_run:
                new.parent.mkdir(parents=True, exist_ok=True)
            git("mv", str(temp), str(new), dry_run=dry_run)
        else:
            git("mv", str(old), str(new), dry_run=dry_run)
        done.append(f"moved {old} -> {new}")
        moved.append((old, new))
    for path, text in NEW_FILES.items():
        path = Path(path)
        if path.exists():
            continue
        if not dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            git("add", str(path))
        done.append(f"created {path}")
    return done, moved


# --------------------------------------------------------------- splitting


def top_level_names(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def used_names(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def split_module(dry_run):
    """Carry SPLIT_NAMES, and the helpers only they use, into SPLIT_TO.

    Returns the names that moved (for the imports to follow them).
    """
    source, target = module_path(SPLIT_FROM), module_path(SPLIT_TO)
    if target.exists() or dry_run and not source.exists():
        return set(_names_defined(target)) if target.exists() else set(SPLIT_NAMES)
    text = source.read_text(encoding="utf-8")
    tree = ast.parse(text)
    body = [n for n in tree.body]
    first_def = next(
        i
        for i, n in enumerate(body)
        if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Assign))
    )
    header, defs = body[:first_def], body[first_def:]
    names = {i: top_level_names(n) for i, n in enumerate(defs)}
    moving = {i for i, ns in names.items() if ns & set(SPLIT_NAMES)}
    if len(moving) != len(SPLIT_NAMES):
        sys.exit(f"relayout: {source} does not define all of {SPLIT_NAMES}.")
    # a private helper goes along when only moving definitions use it
    changed = True
    while changed:
        changed = False
        for i in range(len(defs)):
            if (
                i in moving
                or not all(n.startswith("_") for n in names[i])
                or not names[i]
            ):
                continue
            users = [
                j
                for j, other in enumerate(defs)
                if j != i and names[i] & used_names(other)
            ]
            if users and all(j in moving for j in users):
                moving.add(i)
                changed = True
    staying = [n for i, n in enumerate(defs) if i not in moving]
    leaving = [n for i, n in enumerate(defs) if i in moving]
    needed = set().union(*(used_names(n) for n in leaving))
    from_staying = sorted(
        name for node in staying for name in top_level_names(node) if name in needed
    )
    lines = text.splitlines(keepends=True)

    def segment(node):
        start = min(
            [d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]
        )
        # comments right above a definition go with it
        while start > 1 and lines[start - 2].lstrip().startswith("#"):
            start -= 1
        return start, node.end_lineno

    spans = [segment(n) for n in leaving]
    header_text = "".join(lines[: segment(defs[0])[0] - 1])
    docstring = ast.get_docstring(tree)
    imports = "".join(
        "".join(lines[n.lineno - 1 : n.end_lineno])
        for n in header
        if isinstance(n, (ast.Import, ast.ImportFrom))
    )
    own = SPLIT_FROM.rsplit(".", 1)[1]
    new_text = (
        '"""The selectors by the Fisher over every parameter of the model.\n\n'
        f"{', '.join(n for n in SPLIT_NAMES if not n.startswith('_'))}; the\n"
        f'last-layer one is in :mod:`{SPLIT_FROM}`.\n"""\n\n'
        + imports
        + (f"from .{own} import {', '.join(from_staying)}\n" if from_staying else "")
        + "\n\n"
        + "\n\n".join("".join(lines[a - 1 : b]).rstrip() + "\n" for a, b in spans)
    )
    keep = []
    skip = set()
    for a, b in spans:
        skip.update(range(a, b + 1))
    for number, line in enumerate(lines, start=1):
        if number not in skip:
            keep.append(line)
    kept = re.sub(r"\n{4,}", "\n\n\n", "".join(keep)).rstrip() + "\n"
    del header_text, docstring
    if not dry_run:
        source.write_text(kept, encoding="utf-8")
        target.write_text(new_text, encoding="utf-8")
        git("add", str(source), str(target))
    moved = set().union(*(top_level_names(n) for n in leaving))
    print(f"split {source}: {', '.join(sorted(moved))} -> {target}")
    return moved


def _names_defined(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return set().union(set(), *(top_level_names(n) for n in tree.body))


# ------------------------------------------------------------ rewriting


def dotted_of(path):
    parts = list(path.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def old_package(path, reverse):
    """The package a file's relative imports were written from: where it
    stood before the move (in a dry run, where it stands)."""
    old = reverse.get(path.as_posix(), path)
    if not old.exists() and not path.exists():
        old = path
    dotted = dotted_of(old)
    return dotted if old.name == "__init__.py" else dotted.rpartition(".")[0]


def new_module(dotted, name_moved):
    """The module that holds ``dotted`` now; ``name_moved(dotted, name)``
    tells the split's destination of one name."""
    for old, new in sorted(MOVES.items(), key=lambda kv: -len(kv[0])):
        if dotted == old or dotted.startswith(old + "."):
            return new + dotted[len(old) :]
    return dotted


def relative(from_package, target):
    """``target`` as a relative import from inside ``from_package``."""
    a, b = from_package.split("."), target.split(".")
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    level = len(a) - common + 1
    rest = ".".join(b[common:])
    return "." * level + rest


def import_line(indent, module, names, is_relative, package):
    base = relative(package, module) if is_relative else module
    text = ", ".join(names)
    line = f"{indent}from {base} import {text}"
    if len(line) > 88:
        inner = "".join(f"{indent}    {n},\n" for n in names)
        line = f"{indent}from {base} import (\n{inner}{indent})"
    return line


class Rewriter:
    def __init__(self, split_names):
        self.split_names = split_names
        self.modules = set(MOVES) | set(MOVES.values())

    def is_module(self, dotted):
        """Whether ``dotted`` names a module of the package (old or new)."""
        if dotted in self.modules:
            return True
        path = Path(*dotted.split("."))
        return path.with_suffix(".py").exists() or (path / "__init__.py").exists()

    def target_of(self, module, name):
        """Where ``name`` imported from ``module`` (old dotted) lives now:
        (module, name) for an attribute, (package, module name) for a module."""
        sub = f"{module}.{name}"
        if sub in MOVES:  # a module imported as a name: from pkg import _mod
            new = MOVES[sub]
            return new.rsplit(".", 1)[0], new.rsplit(".", 1)[1], True
        new = new_module(module, None)
        if new == SPLIT_FROM and name in self.split_names:
            new = SPLIT_TO
        return new, name, False

    def rewrite_python(self, path, text, old_package):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return text
        is_package = path.name == "__init__.py"
        new_dotted = dotted_of(path)
        new_package = new_dotted if is_package else new_dotted.rpartition(".")[0]
        lines = text.splitlines(keepends=True)
        edits = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                replacement = self._import_from(node, old_package, new_package, lines)
            elif isinstance(node, ast.Import):
                replacement = self._import(node, lines)
            else:
                continue
            if replacement is not None:
                edits.append((node.lineno, node.end_lineno, replacement))
        for start, end, replacement in sorted(edits, reverse=True):
            first = lines[start - 1]
            indent = first[: len(first) - len(first.lstrip())]
            # a comment on the statement's first line (a noqa) stays on the
            # first line of each statement written for it
            comment = re.search(r"\s*#.*$", first.rstrip("\n"))
            statements = replacement(indent).split("\n" + indent + "from ")
            text = ("\n" + indent + "from ").join(statements)
            if comment:
                text = "\n".join(
                    line + comment.group(0)
                    if line.startswith(indent + "from ")
                    or line.startswith(indent + "import ")
                    else line
                    for line in text.split("\n")
                )
            lines[start - 1 : end] = [text + "\n"]
        return "".join(lines)

    def _import_from(self, node, old_package, new_package, lines):
        if node.level:
            base = old_package.split(".")
            base = base[: len(base) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        if module != PACKAGE and not module.startswith(PACKAGE + "."):
            return None
        groups = {}
        changed = False
        for alias in node.names:
            new_mod, new_name, was_module = self.target_of(module, alias.name)
            bound = alias.asname or alias.name
            shown = new_name if bound == new_name else f"{new_name} as {bound}"
            if was_module or new_mod != module:
                changed = True
            groups.setdefault(new_mod, []).append(shown)
        relative_import = bool(node.level)
        if not changed and (not relative_import or new_package == old_package):
            return None
        if not changed and relative_import:
            # the file moved: the same module, from where the file is now
            old_text = "".join(lines[node.lineno - 1 : node.end_lineno])
            if relative(new_package, module) == "." * node.level + (node.module or ""):
                return None
            del old_text

        def replacement(indent):
            return "\n".join(
                import_line(indent, mod, names, relative_import, new_package)
                for mod, names in groups.items()
            )

        return replacement

    def _import(self, node, lines):
        names = []
        changed = False
        for alias in node.names:
            new = new_module(alias.name, None)
            changed |= new != alias.name
            names.append(new if alias.asname is None else f"{new} as {alias.asname}")
        if not changed:
            return None
        return lambda indent: f"{indent}import {', '.join(names)}"


def dotted_patterns(split_names):
    """(regex, replacement) for dotted module paths in any text."""
    patterns = []
    for old, new in sorted(MOVES.items(), key=lambda kv: -len(kv[0])):
        if old == new:
            continue
        escaped = re.escape(old)
        if old == "sklearn_cincer.selectors._fisher":
            # a name after the module says which half it went to
            names = "|".join(sorted(split_names, key=len, reverse=True))
            patterns.append(
                (re.compile(rf"\b{escaped}\.({names})\b"), SPLIT_TO + r".\1")
            )
        patterns.append((re.compile(rf"\b{escaped}(?![\w])"), new))
        # file paths: sklearn_cincer/_fisher.py
        old_file = module_path(old).as_posix()
        new_file = module_path(new).as_posix()
        patterns.append((re.compile(rf"(?<![\w/]){re.escape(old_file)}\b"), new_file))
    patterns.append(
        (
            re.compile(r"\bfrom sklearn_cincer import _fisher\b"),
            "from sklearn_cincer._core import fisher_math as _fisher",
        )
    )
    return patterns


def rename_patterns():
    return [
        (re.compile(rf"(?<!\w){re.escape(old)}\b"), new) for old, new in RENAMES.items()
    ]


def text_files():
    for root in TEXT_ROOTS:
        for path in sorted(Path(root).rglob("*")):
            if (
                path.is_file()
                and path.suffix in TEXT_SUFFIXES
                and "__pycache__" not in path.parts
                and "_build" not in path.parts
            ):
                yield path
    for name in TEXT_FILES:
        if Path(name).is_file():
            yield Path(name)


def rewrite(split_names, reverse, dry_run):
    rewriter = Rewriter(split_names)
    patterns = dotted_patterns(split_names)
    renames = rename_patterns()
    changed = []
    for path in text_files():
        if path.resolve() == SELF.resolve():
            continue
        text = path.read_text(encoding="utf-8")
        new = text
        if path.suffix == ".py":
            new = rewriter.rewrite_python(path, new, old_package(path, reverse))
        for pattern, replacement in patterns:
            new = pattern.sub(replacement, new)
        if path.as_posix().startswith(RENAME_IN):
            for pattern, replacement in renames:
                new = pattern.sub(replacement, new)
        if new != text:
            changed.append(path)
            if not dry_run:
                path.write_text(new, encoding="utf-8")
    return changed


# -------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument(
        "--force",
        action="store_true",
        help="run on a work tree with uncommitted changes",
    )
    parser.add_argument(
        "--format", action="store_true", help="run 'ruff format .' at the end"
    )
    args = parser.parse_args(argv)
    if not Path(PACKAGE, "__init__.py").exists():
        sys.exit("relayout: run it from the repository's root.")
    dirty = git("status", "--porcelain", "--untracked-files=no").strip()
    if dirty and not args.force and not args.dry_run:
        sys.exit(
            "relayout: the work tree has uncommitted changes; commit them "
            "first (or pass --force)."
        )
    done, moved = move_files(args.dry_run)
    # only a file moved now has relative imports written for its old place
    reverse = {new.as_posix(): old for old, new in moved}
    split_names = split_module(args.dry_run)
    changed = rewrite(split_names, reverse, args.dry_run)
    for line in done:
        print(line)
    for path in changed:
        print(f"{'would rewrite' if args.dry_run else 'rewrote'} {path}")
    if not done and not changed:
        print("relayout: nothing to do; the layout is in place already.")
        if args.format and not args.dry_run:
            subprocess.run([sys.executable, "-m", "ruff", "format", "."], check=False)
        return 0
    if args.dry_run:
        return 0
    python = (
        [p for p in changed if p.suffix == ".py"]
        + [Path(p) for p in NEW_FILES if p.endswith(".py")]
        + [module_path(SPLIT_TO), module_path(SPLIT_FROM)]
    )
    python = sorted({str(p) for p in python if Path(p).exists()})
    ruff = [sys.executable, "-m", "ruff"]
    try:
        subprocess.run(ruff + ["--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        ruff = ["ruff"]
    # the imports rewritten sort differently; the split module's header
    # was copied whole, and loses what it does not use
    subprocess.run(
        ruff + ["check", "--fix", "--select", "I", "--quiet", *python], check=False
    )
    subprocess.run(
        ruff
        + [
            "check",
            "--fix",
            "--select",
            "F401",
            "--quiet",
            str(module_path(SPLIT_TO)),
            str(module_path(SPLIT_FROM)),
        ],
        check=False,
    )
    if args.format:
        subprocess.run(ruff + ["format", "."], check=False)
    # only what the script touched: an untracked file of the user's stays so
    touched = {str(p) for p in changed} | {str(new) for _, new in moved}
    touched |= {p for p in NEW_FILES if Path(p).exists()}
    touched |= {str(module_path(SPLIT_TO)), str(module_path(SPLIT_FROM))}
    git("add", "--", *sorted(p for p in touched if Path(p).exists()))
    print(
        f"relayout: {len(done)} moves, {len(changed)} files rewritten; "
        "review with 'git diff --cached --stat', then run the tests."
    )
    return 0


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parents[1])
    sys.exit(main())
