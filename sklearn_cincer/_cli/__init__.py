"""The ``sklearn-cincer`` command line.

Each subcommand lives in its own module, which exposes ``add_parser(subparsers)``
that registers the subcommand and sets ``func`` (called with the parsed
arguments, returning an exit status). Add a module to ``_SUBCOMMANDS`` to add
one.
"""

import argparse
import importlib
import sys

# Modules with an ``add_parser(subparsers)`` function, in help order.
_SUBCOMMANDS = (
    "sklearn_cincer._cli.demo",
    "sklearn_cincer._cli.clean",
    "sklearn_cincer._cli.audit",
    "sklearn_cincer.benchmark._commands",
    "sklearn_cincer.benchmark._audit_command",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-cincer",
        description="Interactive label cleaning with example-based explanations.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=__version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a subcommand not written yet
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return args.func(args) or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
