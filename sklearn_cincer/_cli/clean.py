"""``sklearn-cincer clean``: clean the labels of a CSV file, no Python needed.

::

    sklearn-cincer clean data.csv --label COLUMN --output cleaned.csv \\
        [--oracle terminal|browser|labelstudio|none] [--store FILE] \\
        [--answers FILE ...] [--questions FILE] [--model logistic|sgd|mlp] \\
        [--ls-url URL] [--ls-token TOKEN] [--ls-project ID] [--ls-annotations K]

The rows are streamed through :class:`~sklearn_cincer.SkepticalCleaner` in
a shuffled order (``--seed``; ``--no-shuffle`` keeps the file's order) with a
default model for tables: one-hot encoded text columns and standardized
numeric columns into a logistic regression (``--model``). The person answers
at the terminal or in the browser, every answer is written to a store as it
is given (``--store``, by default next to the output), and running the same
command again resumes where it stopped; stopping (Ctrl-C, Ctrl-D) writes the
outputs of the answers given so far. ``--oracle none`` asks nobody: it applies
the answers of an existing store and of ``--answers`` files, and writes the
questions left to a file (``--questions``) for a team to answer.

The cleaned file is the input byte for byte but for the label field of the
rows whose label changed. Outputs never overwrite an input, and are written
to a temporary file renamed into place once the whole run succeeded.
"""

import contextlib
import functools
import html
import os
import re
import sys
from pathlib import Path

import numpy as np

from .._outputs import CHANGE_COLUMNS
from .._spellings import describe_variants, spelling_variants
from ..oracles._render import inert
from .output_files import CommandError, OutputFiles, check_folder, check_paths

MISSING = "(missing)"
#: With ``--oracle none``, the model is updated each time the training set
#: has grown by this fraction (``SkepticalCleaner(refit_every=...)``).
_NO_ORACLE_REFIT = 0.01


def _positive(text):
    """An integer of at least 1, for argparse."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _fraction(text):
    """A number in [0, 1], for argparse."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "clean",
        help="stream the rows of a CSV file, asking you about the suspicious "
        "ones (for rows that come over time; a finished file: 'audit')",
        description=(
            "Stream the rows of a CSV file through CINCER with a logistic "
            "regression on one-hot encoded text columns and standardized "
            "numeric columns; ask about the rows whose label the model doubts, "
            "showing a training row that supports the doubt; write the "
            "file with cleaned labels, and a table of what changed. "
            "The stream never asks about its first rows (the bootstrap) and "
            "judges each row once, by a model of the rows before it: for a "
            "finished file, 'sklearn-cincer audit' fixes more label errors "
            "for the same labels you inspect (user guide, 'Stream or "
            "audit?'). Use 'clean' for rows that come over time, after an "
            "audit of those you have."
        ),
    )
    add_file_arguments(parser)
    parser.add_argument(
        "--threshold",
        type=_fraction,
        default=0.2,
        help="margin that makes a label suspicious; lower asks "
        "more (default: %(default)s)",
    )
    parser.add_argument(
        "--n-bootstrap",
        type=_positive,
        default=None,
        help="rows that train the first model without questions "
        "(default: 100, or half the rows when fewer than 200)",
    )
    parser.add_argument(
        "--counter-examples",
        choices=("relabel", "none"),
        default="relabel",
        help="show the counter-example and let you relabel it "
        "too (CINCER), or show the suspicious row alone "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--n-counter-examples",
        type=_positive,
        default=1,
        metavar="M",
        help="counter-examples shown with each question, best "
        "first; you label each (default: %(default)s)",
    )
    parser.add_argument(
        "--no-shuffle",
        action="store_true",
        help="stream the rows in the file's order (shuffle when "
        "the file is sorted, e.g. by label)",
    )
    parser.set_defaults(func=run)
    return parser


def add_file_arguments(parser, seed_help="seed of the row order and the model"):
    """The options that every command on a CSV file takes, the same way.

    DATA, ``--label``, ``--output`` and its companions, the oracle and its
    store, the columns, the separator, the model, the seed and the
    annotator: ``clean`` and ``audit`` read them alike, so that a file
    cleaned by one can be audited by the other with the same words.
    """
    parser.add_argument(
        "data", help="the CSV file (a header line, then one row per example)"
    )
    parser.add_argument(
        "--label",
        required=True,
        metavar="COLUMN",
        help="the column holding the labels to clean",
    )
    parser.add_argument(
        "--output",
        required=True,
        metavar="FILE",
        help="where to write the CSV file with cleaned labels "
        "(DATA byte for byte but for the changed labels); a "
        "symbolic link there is replaced, not followed",
    )
    _add_answer_arguments(parser)
    parser.add_argument(
        "--changes",
        metavar="FILE",
        default=None,
        help="the table of changed labels (default: OUTPUT with "
        "the suffix .changes.csv)",
    )
    _add_model_arguments(parser, seed_help)
    parser.add_argument(
        "--annotator",
        default=None,
        help="your name, for the record (default: login name)",
    )


def _add_answer_arguments(parser):
    """The options that say who answers and where the answers are kept."""
    parser.add_argument(
        "--oracle",
        choices=("terminal", "browser", "labelstudio", "none"),
        default="terminal",
        help="who answers: a prompt here, a page in the web "
        "browser, a team in a Label Studio project (--ls-url), "
        "or nobody (the answers of the store and of "
        "--answers are applied; the questions left go to "
        "--questions) (default: %(default)s)",
    )
    add_labelstudio_arguments(parser)
    parser.add_argument(
        "--store",
        metavar="FILE",
        default=None,
        help="SQLite file of the answers; running again with "
        "it resumes (default: OUTPUT with the suffix "
        ".answers.sqlite)",
    )
    parser.add_argument(
        "--answers",
        nargs="+",
        metavar="FILE",
        default=[],
        help="batch files answered offline (written by "
        "--questions, 'answer' column filled in): their answers "
        "are used first",
    )
    parser.add_argument(
        "--questions",
        metavar="FILE",
        default=None,
        help="write the questions nobody answered to this CSV "
        "or JSON file, for a team to answer (with --oracle none)",
    )


def _add_model_arguments(parser, seed_help):
    """The options of the features, the seed and the model that reads them."""
    parser.add_argument(
        "--ignore",
        nargs="+",
        metavar="COLUMN",
        default=[],
        help="columns that are not features (ids, free text...)",
    )
    parser.add_argument("--seed", type=int, default=0, help=f"{seed_help} (default: 0)")
    parser.add_argument(
        "--sep",
        default=",",
        help="field separator, one character; \\t for a tab (default: ,)",
    )
    parser.add_argument(
        "--model",
        choices=tuple(MODELS),
        default="logistic",
        help="the classifier after the encoding of the columns: "
        "logistic regression, a linear model trained by "
        "stochastic gradient descent (faster on large files), or "
        "a small neural network (default: %(default)s)",
    )


def add_labelstudio_arguments(parser):
    """The options of ``--oracle labelstudio``: the server, key, project, team."""
    group = parser.add_argument_group("Label Studio (--oracle labelstudio)")
    group.add_argument(
        "--ls-url",
        metavar="URL",
        default=None,
        help="the Label Studio server, e.g. http://127.0.0.1:8080",
    )
    group.add_argument(
        "--ls-token",
        metavar="TOKEN",
        default=None,
        help="an access token of a Label Studio account (default: "
        "the environment variable LABEL_STUDIO_API_KEY, which "
        "keeps it out of the list of processes)",
    )
    group.add_argument(
        "--ls-project",
        metavar="ID",
        type=_positive,
        default=None,
        help="the id of the project to put the questions in "
        "(default: the project titled 'sklearn-cincer: DATA', "
        "created if missing)",
    )
    group.add_argument(
        "--ls-annotations",
        metavar="K",
        type=_positive,
        default=1,
        help="annotators per question; the majority answers (default: 1)",
    )


# ------------------------------------------------------------------- data


class Table:
    """A CSV file as the cleaner needs it.

    Parameters
    ----------
    frame : DataFrame
        The file as read by pandas.
    label : str
        The label column.
    ignore : sequence of str, default=()
        Columns that are not features.
    shuffle : bool, default=True
        Stream the rows in a random order (``seed``) rather than the file's.
    seed : int, default=0
    text : CsvText, default=None
        The file's own text (:class:`~sklearn_cincer._cli.csv_text.CsvText`): the
        lines of the rows and the cleaned file come from it. Without it the
        line of row ``i`` is ``i + 2``.

    Attributes
    ----------
    frame : DataFrame
        The file as read.
    labeled : ndarray of int
        Positions of the rows with a label; the others are not cleaned.
    order : ndarray of int
        Stream order: ``order[k]`` is the position in ``frame`` of stream id
        ``k``.
    X : ndarray of shape (n_labeled, n_features)
        Numeric features in stream order: text columns as category codes,
        missing numbers as the column's median.
    y : ndarray
        Labels in stream order.
    """

    def __init__(self, frame, label, ignore=(), shuffle=True, seed=0, text=None):
        self._check_columns(frame, label, ignore)
        self.frame, self.label, self.text = frame, label, text
        self.features = [c for c in frame.columns if c != label and c not in ignore]
        labels = frame[label]
        self.labeled = np.flatnonzero(labels.notna().to_numpy())
        self._check_labels(labels)
        self.order = self.labeled.copy()
        if shuffle:
            self.order = np.random.RandomState(seed).permutation(self.labeled)
        self.y = _labels(labels.to_numpy()[self.order])
        self.categorical, self.numeric, self.categories = [], [], []
        columns, self.n_filled = [], 0
        for i, name in enumerate(self.features):
            if _is_numeric(frame[name]):
                values = self._numbers(name)
                self.numeric.append(i)
            else:
                text_values = frame[name].astype("string").fillna(MISSING)
                categories = sorted(text_values.unique())
                codes = np.searchsorted(
                    categories, text_values.iloc[self.order].to_numpy()
                )
                values = codes.astype(float)
                self.categorical.append(i)
                self.categories.append(list(range(len(categories))))
            columns.append(values)
        self.X = np.column_stack(columns)

    @staticmethod
    def _check_columns(frame, label, ignore):
        if label not in frame.columns:
            raise ValueError(
                f"The file has no column {label!r}; its columns are "
                f"{list(map(str, frame.columns))}{_sep_hint(frame)}."
            )
        if label in ignore:
            raise ValueError(f"--ignore names the label column {label!r}.")
        unknown = [c for c in ignore if c not in frame.columns]
        if unknown:
            raise ValueError(f"--ignore names columns the file lacks: {unknown}.")
        if not [c for c in frame.columns if c != label and c not in ignore]:
            raise ValueError(
                f"The file has no feature column besides the label{_sep_hint(frame)}."
            )

    def _check_labels(self, labels):
        if len(self.frame) == 0:
            raise ValueError("The file has a header but no row.")
        if len(self.labeled) == 0:
            raise ValueError(f"The label column {self.label!r} is empty in every row.")
        classes = labels.iloc[self.labeled].unique()
        if len(classes) < 2:
            raise ValueError(
                f"The label column {self.label!r} holds one class "
                f"({str(classes[0])!r}); cleaning needs at least two."
            )

    def _numbers(self, name):
        column = self.frame[name].iloc[self.order]
        values = np.array(column.to_numpy(dtype=float, na_value=np.nan))
        missing = np.isnan(values)
        if missing.all():
            raise ValueError(
                f"Column {name!r} has no value at all; pass --ignore {name}."
            )
        self.n_filled += int(missing.sum())
        values[missing] = np.nanmedian(values)
        return values

    def line(self, stream_ids):
        """The line of the file on which each stream id's row starts (the
        header is line 1; a quoted field may span lines)."""
        positions = self.order[np.asarray(stream_ids, dtype=int)]
        if self.text is None:
            return positions + 2
        return np.asarray(self.text.lines, dtype=int)[positions + 1]

    def row_values(self, stream_id):
        """``{column: value}`` of a stream id's row, every column but the
        label, as written in the file."""
        position = int(self.order[stream_id])
        if self.text is None:
            row = self.frame.iloc[position]
            return {
                str(c): "" if _isna(row[c]) else str(row[c])
                for c in self.frame.columns
                if c != self.label
            }
        values = self.text.values(position + 1)
        names = [str(c) for c in self.frame.columns]
        return {n: v for n, v in zip(names, values) if n != str(self.label)}

    def cleaned_frame(self, y_cleaned):
        """The file with the cleaned labels, rows and columns as read."""
        out = self.frame.copy()
        labels = out[self.label].to_numpy(dtype=object)
        labels[self.order] = y_cleaned
        out[self.label] = labels
        return out

    def cleaned_bytes(self, y_cleaned):
        """The file's bytes with the label field of the changed rows rewritten.

        A new label is written as the file spells that class in another row
        (quotes included), so every other byte stays as read. Needs the
        table's ``text``.
        """
        if self.text is None:
            raise ValueError(
                "cleaned_bytes needs the file's text (Table(..., "
                "text=CsvText(...))); use cleaned_frame."
            )
        column = list(self.frame.columns).index(self.label)
        spelling, replacements = {}, {}
        for k in np.flatnonzero(
            np.asarray(y_cleaned, dtype=object) != self.y.astype(object)
        ):
            new = y_cleaned[k]
            if new not in spelling:
                first = int(np.flatnonzero(self.y == new)[0])
                spelling[new] = self.text.field(int(self.order[first]) + 1, column)
            replacements[(int(self.order[k]) + 1, column)] = spelling[new]
        return self.text.with_fields(replacements)

    def id_like_columns(self):
        """Feature columns that name each row (a different value per row)."""
        n = len(self.frame)
        if n < 10:
            return []
        found = []
        for name in self.features:
            column = self.frame[name]
            if column.isna().any() or column.nunique() < n:
                continue
            if not _is_numeric(column) or _whole_numbers(column):
                found.append(name)
        return found


def _whole_numbers(column):
    values = column.to_numpy(dtype=float)
    return bool(np.all(np.mod(values, 1) == 0))


def _sep_hint(frame):
    """A hint when the header looks split on the wrong separator."""
    if len(frame.columns) != 1:
        return ""
    header = str(frame.columns[0])
    for sep in (";", "\t", "|", ","):
        if sep in header:
            shown = "\\t" if sep == "\t" else sep
            return (
                f" (the file was read as one column: is the separator "
                f"{shown!r}? pass --sep '{shown}')"
            )
    return (
        " (the file was read as one column: pass --sep if fields are "
        "separated by another character)"
    )


def _is_numeric(series):
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(series) and not is_bool_dtype(series)


def _labels(values):
    """Labels as read; whole numbers read as floats (a column with gaps) as ints."""
    if values.dtype.kind == "f" and np.all(np.mod(values, 1) == 0):
        return values.astype(int)
    if values.dtype == object:
        return values.astype(str)
    return values


def read_table(args):
    """The :class:`Table` of ``args.data``; ValueError or OSError on bad input."""
    import io

    import pandas as pd

    from .csv_text import CsvText

    text = CsvText(Path(args.data).read_bytes(), args.sep)
    if len(text) == 0:
        raise ValueError(
            "the file is empty; a CSV file starts with a header "
            "line naming its columns."
        )
    try:
        frame = pd.read_csv(io.StringIO(text.text), sep=args.sep)
    except pd.errors.ParserError as exc:
        raise ValueError(
            f"cannot read it as CSV ({' '.join(str(exc).split())}); "
            "check --sep, and that quotes are closed."
        ) from None
    if len(frame) + 1 != len(text):
        raise ValueError(
            f"its {len(text) - 1} records do not match the {len(frame)} rows "
            "pandas read; check --sep, and that quotes are closed."
        )
    return Table(
        frame,
        args.label,
        ignore=args.ignore,
        shuffle=not args.no_shuffle,
        seed=args.seed,
        text=text,
    )


# ----------------------------------------------------------------- models

MODELS = {
    "logistic": ("sklearn.linear_model", "LogisticRegression", {"max_iter": 1000}),
    "sgd": (
        "sklearn.linear_model",
        "SGDClassifier",
        {"loss": "log_loss", "max_iter": 1000, "tol": 1e-4},
    ),
    "mlp": (
        "sklearn.neural_network",
        "MLPClassifier",
        {"hidden_layer_sizes": (32,), "max_iter": 500},
    ),
}


def default_model(table, seed=0, model="logistic"):
    """One-hot encoded text columns, standardized numbers, then ``model``.

    ``model`` is one of :data:`MODELS`: probabilistic classifiers whose
    counter-examples the default selector can find.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer._cli.clean import Table, default_model
    >>> frame = pd.DataFrame({"color": ["red", "blue"] * 3,
    ...                       "size": [1.0, 2.0, None, 4.0, 5.0, 6.0],
    ...                       "label": ["a", "b"] * 3})
    >>> table = Table(frame, "label", shuffle=False)
    >>> default_model(table).fit(table.X, table.y).predict(table.X[:2]).tolist()
    ['a', 'b']
    """
    import importlib

    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if table.categorical:
        parts.append(
            (
                "text",
                OneHotEncoder(
                    categories=table.categories,
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
                table.categorical,
            )
        )
    if table.numeric:
        parts.append(("numbers", StandardScaler(), table.numeric))
    module, name, options = MODELS[model]
    classifier = getattr(importlib.import_module(module), name)(
        random_state=seed, **options
    )
    return Pipeline(
        [
            ("features", ColumnTransformer(parts, sparse_threshold=0)),
            ("model", classifier),
        ]
    )


def row_name(table, example_id):
    """``"line 268"``: the one name the human oracles give a row of the file."""
    return f"line {int(table.line([example_id])[0])}"


class RowView:
    """``render(x, example_id)``: the row as in the file, for the human oracles.

    Control characters in the file (terminal escape sequences) are shown as
    ``\\x1b``-style text, so a cell cannot drive the person's terminal. The
    row is named (its line) by the oracle's ``example_name``, not here; an
    empty cell reads "missing".
    """

    def __init__(self, table, as_html):
        self.table = table
        self.as_html = as_html

    def __call__(self, x, example_id):
        position = self.table.order[example_id]
        row = self.table.frame.iloc[position]
        items = [
            (_inert(str(c)), "missing" if _isna(row[c]) else _inert(str(row[c])))
            for c in self.table.features
        ]
        if not self.as_html:
            width = max(len(name) for name, _ in items)
            return "\n".join(f"{n:>{width}}: {v}" for n, v in items)
        cells = "".join(
            f"<tr><th>{html.escape(n)}</th><td>{html.escape(v)}</td></tr>"
            for n, v in items
        )
        return f'<table class="features">{cells}</table>'


def _inert(text):
    """``text`` on one line of the terminal: every control character, line
    breaks too, written as an escape."""
    return inert(text, keep="")


def _isna(value):
    try:
        return bool(value != value)  # NaN, pandas NA
    except TypeError:
        return False


# ---------------------------------------------------------------- oracles


class _Recorder:
    """Passes each question on to ``oracle`` and keeps the answers it returns.

    A stopped fit leaves the cleaner as it was; these answers, with the
    revisions (undo) made since, are what the command writes then. The
    optional hooks of the oracle protocol (``start_fit``, revision listeners,
    ``end_of_questions``...) pass through to ``oracle``, so the running
    cleaner applies an undo as it would without the recorder.
    """

    def __init__(self, oracle):
        self.oracle = oracle
        self.answers = []

    def __getattr__(self, name):
        if name.startswith("_") or name in ("oracle", "answers"):
            raise AttributeError(name)
        hook = getattr(self.oracle, name)  # absent there, absent here
        if name == "add_revision_listener":
            return functools.partial(self._add_revision_listener, hook)
        return hook

    def _add_revision_listener(self, add, listener):
        add(self._revised)  # the oracles ignore a listener added twice
        add(listener)

    def _revised(self, query, answer):
        """Replace the answer to ``query`` by its revision (an undo)."""
        for k, (asked, _) in enumerate(self.answers):
            if asked is query:
                self.answers[k] = (asked, answer)
        return False  # the cleaner's own listener says whether it applies it

    def __call__(self, query):
        answer = self.oracle(query)
        self.answers.append((query, answer))
        return answer


class _StoredAnswers:
    """With ``--oracle none``: the store's answers first, then ``fallback``.

    The store is only read: the questions nobody answered are not recorded,
    so a person who takes over later is asked them.
    """

    def __init__(self, path, fallback):
        from ..oracles import AnnotationSession, AnnotationStore

        self.store = AnnotationStore(path, read_only=True)
        self._session = AnnotationSession(fallback, self.store)
        self.fallback = fallback
        self.n_replayed_ = 0

    def start_fit(self, cleaner, X, y, *, partial=False):
        # refuses a store written by a run with other data or settings
        self._session.start_fit(cleaner, X, y, partial=partial)

    def __call__(self, query):
        stored = self.store.find_answer(query)
        if stored is None:
            return self.fallback(query)
        self.n_replayed_ += 1
        return stored


def open_oracle(args, table, store_path):
    """:func:`_oracle` for a command: its errors as one line, the store named.

    Shared by ``clean`` and ``audit``: an option the oracle refuses, or a
    file that is not a store, ends the command with one line; a session
    says where the answers go.
    """
    from ..oracles import OracleError

    try:
        opened = _oracle(args, table, store_path)
    except (OSError, ValueError, OracleError) as exc:  # e.g. not a store
        raise CommandError(str(exc)) from None
    if opened[3] is not None:
        print(
            f"Answers are saved in {store_path} as you give them; run the "
            "same command again to resume.",
            flush=True,
        )
    return opened


def _oracle(args, table, store_path):
    """``(oracle, human, offline, session)`` for the options given."""
    from ..oracles import AnnotationSession, OfflineAnswers

    if args.oracle == "none":
        offline = OfflineAnswers(args.answers)
        if store_path.is_file():
            return _StoredAnswers(store_path, offline), None, offline, None
        return offline, None, offline, None
    options = {
        "feature_names": [_inert(str(c)) for c in table.features],
        # a row is its line in the file, wherever it is named
        "example_name": functools.partial(row_name, table),
    }
    if table.categorical:  # codes mean nothing to people: show the file's row
        options["render"] = RowView(table, as_html=args.oracle != "terminal")
    human = _human(args, options)
    offline = OfflineAnswers(args.answers, fallback=human) if args.answers else None
    try:
        session = AnnotationSession(offline or human, store_path)
    except BaseException:
        if hasattr(human, "close"):
            human.close()  # the browser page's server
        raise
    return session, human, offline, session


def _human(args, options):
    """The oracle that asks people: at the terminal, on a page, in Label Studio."""
    from ..oracles import BrowserOracle, LabelStudioOracle, TerminalOracle

    if args.oracle != "labelstudio":
        kind = TerminalOracle if args.oracle == "terminal" else BrowserOracle
        return kind(annotator=args.annotator, **options)
    # the token is never printed: errors name the server and the variable only
    return LabelStudioOracle(
        args.ls_url,
        args.ls_token,
        project=args.ls_project,
        project_title=f"sklearn-cincer: {Path(args.data).name}"[:50],
        annotations_per_question=args.ls_annotations,
        **options,
    )


def _check_labelstudio(args):
    """``--ls-*`` go with ``--oracle labelstudio``, which needs ``--ls-url``."""
    given = [
        name
        for name in ("ls_url", "ls_token", "ls_project")
        if getattr(args, name, None) is not None
    ]
    if getattr(args, "ls_annotations", 1) != 1:
        given.append("ls_annotations")
    if args.oracle != "labelstudio":
        if given:
            raise CommandError(
                f"--{given[0].replace('_', '-')} is an option of --oracle labelstudio."
            )
        return
    if args.ls_url is None:
        raise CommandError(
            "--oracle labelstudio needs --ls-url, the address of "
            "the Label Studio server."
        )
    from ..oracles._labelstudio import API_KEY_VARIABLE

    if args.ls_token is None and not os.environ.get(API_KEY_VARIABLE):
        raise CommandError(
            "--oracle labelstudio needs an access token: set the environment "
            f"variable {API_KEY_VARIABLE} (or pass --ls-token)."
        )


# ---------------------------------------------------------------- command


def run(args):
    """Run ``sklearn-cincer clean``; returns the exit status."""
    return run_command(_run, args)


def run_command(body, args):
    """``body(args)``'s exit status, a mistake said in one line (status 1).

    Shared by the commands on a CSV file; ``args.command`` names the
    command in the messages.
    """
    name = f"sklearn-cincer {getattr(args, 'command', None) or 'clean'}"
    try:
        return body(args)
    except (CommandError, OSError, ValueError) as exc:
        # one line, whatever the message (and whatever the data put in it):
        # the person reads an error, not a traceback
        print(f"{name}: error: {_inert(' '.join(str(exc).split()))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the questions, or while writing
        print(f"\n{name}: interrupted; no output was changed.", file=sys.stderr)
        return 130


def _paths(args, more=()):
    """``{name: Path}`` of the outputs, and the inputs, checked.

    ``more``: ``(option, suffix)`` of further outputs, at the option's value
    or else at OUTPUT with that suffix.
    """
    if args.questions and Path(args.questions).suffix.lower() not in (".csv", ".json"):
        raise CommandError(
            f"--questions {args.questions}: write the questions "
            "to a .csv or .json file."
        )
    output = Path(args.output)
    outputs = {
        "--output": output,
        "--changes": Path(args.changes)
        if args.changes
        else output.with_suffix(".changes.csv"),
    }
    for option, suffix in more:
        value = getattr(args, option.lstrip("-").replace("-", "_"))
        outputs[option] = Path(value) if value else output.with_suffix(suffix)
    if args.questions:
        outputs["--questions"] = Path(args.questions)
    store = Path(args.store) if args.store else output.with_suffix(".answers.sqlite")
    inputs = [("DATA", Path(args.data))] + [
        ("--answers", Path(a)) for a in args.answers
    ]
    for name, path in inputs:
        if path.is_dir():
            raise CommandError(f"{name} {path} is a folder; name a CSV file.")
        if not path.exists():
            raise CommandError(f"{name} {path}: no such file.")
        if not path.is_file():
            raise CommandError(f"{name} {path} is not a regular file.")
    if args.oracle == "none":
        # only read: an input (when there is one)
        check_paths(inputs + [("--store", store)], list(outputs.items()))
        return outputs, store
    # read and written: an input for the outputs, an output for the inputs
    check_paths(inputs, [("--store", store)] + list(outputs.items()))
    return outputs, store


def _check_folders(args, outputs, store):
    """Create the outputs' folders, and check that files can be written there."""
    written = list(outputs.items())
    if args.oracle != "none":
        written.append(("--store", store))
    for name, path in written:
        check_folder(name, path)


def _check_options(args):
    _check_labelstudio(args)
    if args.sep in ("\\t", "tab"):
        args.sep = "\t"
    if len(args.sep) != 1 or args.sep in ('"', "\r", "\n"):
        raise CommandError(
            f"--sep {args.sep!r}: the separator is one character "
            "(other than a quote or a line break)."
        )
    try:
        import bottle  # noqa: F401  (the browser page's server)
        import pandas  # noqa: F401
    except ImportError as exc:
        # both are dependencies of the package: an install that lacks one
        # was made without them (pip install --no-deps...)
        raise CommandError(
            f"{exc.name} is missing: pip install {exc.name} (or "
            "reinstall sklearn-cincer with its dependencies)."
        ) from None


def _run(args):
    _check_options(args)
    outputs, store_path = _paths(args)
    table = _read(args)
    _check_folders(args, outputs, store_path)
    n = len(table.y)
    n_bootstrap = args.n_bootstrap or (100 if n >= 200 else max(2, n // 2))
    _describe(args, table, n_bootstrap)
    oracle, human, offline, session = open_oracle(args, table, store_path)
    from .. import SkepticalCleaner

    recorder = _Recorder(oracle)
    cleaner = SkepticalCleaner(
        default_model(table, args.seed, args.model),
        oracle=recorder,
        threshold=args.threshold,
        counter_examples=args.counter_examples,
        n_bootstrap=n_bootstrap,
        n_counter_examples=args.n_counter_examples,
        refit="incremental",
        random_state=args.seed,
        verbose=1 if session is None else 0,
        refit_every=_refit_every(args, store_path),
    )
    return _fit_and_write(
        args, table, cleaner, recorder, (human, offline, session), outputs, store_path
    )


def _refit_every(args, store_path):
    """How often the model learns the rows streamed.

    After every row when a person answers (the paper's loop). Without a
    person (``--oracle none``), and with ``--answers`` (to reach the
    questions of the ``--oracle none`` run that wrote the batches), as the
    training set grows by 1%: nobody waits for the model to learn an answer
    (an answer that changes a label updates it at once), and a refit per row
    would cost a fit on the whole training set per row. An existing store
    keeps the schedule of the run that wrote it, so that its answers meet
    the same questions.
    """
    if args.oracle != "none" and not args.answers:
        return 1
    if store_path.is_file():
        from ..oracles import AnnotationStore, OracleError

        try:
            with contextlib.closing(
                AnnotationStore(store_path, read_only=True)
            ) as store:
                stored = store.last_fingerprint()
        except (OSError, ValueError, OracleError):
            stored = None  # opening it for the run says what is wrong
        if stored is not None:
            return stored.get("params", {}).get("refit_every", 1)
    return _NO_ORACLE_REFIT


def _read(args):
    """The table of DATA, with one line about what is wrong with it."""
    name = f"sklearn-cincer {getattr(args, 'command', None) or 'clean'}"
    try:
        table = read_table(args)
    except (OSError, ValueError) as exc:
        raise CommandError(f"{args.data}: {exc}") from None
    for name in table.id_like_columns():
        print(
            f"{name}: warning: column {str(name)!r} holds a "
            "different value in every row, like an id: the model could learn "
            f"the rows by heart from it; pass --ignore {_inert(str(name))} if "
            "it is not a feature.",
            file=sys.stderr,
        )
    return table


def _describe(args, table, n_bootstrap):
    n = len(table.y)
    describe_table(args, table)
    order = "the file's" if args.no_shuffle else "a shuffled"
    print(
        f"The first {min(n_bootstrap, n)} rows (in {order} order) train the "
        f"model; the other {max(0, n - n_bootstrap)} are checked one at a "
        "time.",
        flush=True,
    )
    print(
        "For a finished file, 'sklearn-cincer audit' checks every row, the "
        "first ones too, and fixes more errors for the labels you inspect; "
        "'clean' is for rows that come over time.",
        flush=True,
    )


def describe_table(args, table):
    """Say what was read: rows, features, classes, and what the run skips."""
    print(
        f"{args.data}: {len(table.frame)} rows, {len(table.features)} features "
        f"({len(table.categorical)} text, {len(table.numeric)} numeric), "
        f"label {args.label!r} with {len(np.unique(table.y))} classes."
    )
    for line in describe_variants(spelling_variants(table.y)):
        print(
            f"  Labels that differ only in case or spaces: {_inert(line)}. The "
            "model takes each for a class of its own; merge them in the file."
        )
    if len(table.labeled) < len(table.frame):
        print(
            f"  {len(table.frame) - len(table.labeled)} rows without a label "
            "are written back unchanged."
        )
    if table.n_filled:
        print(
            f"  Missing numbers ({table.n_filled}) are read as their "
            "column's median (the output keeps them missing)."
        )


def _fit_and_write(args, table, cleaner, recorder, oracles, outputs, store_path):
    human, offline, session = oracles
    again = again_sentence(session, store_path)
    status = fit_or_stop(
        lambda: cleaner.fit(table.X, table.y),
        recorder,
        human,
        again,
        lambda stop: _write_stopped(table, cleaner, recorder, outputs, again, stop),
    )
    if status is not None:
        return status
    return _write_results(args, table, cleaner, offline, session, outputs)


def again_sentence(session, store_path):
    """The sentence that says how to go on after a stop."""
    if session is None:
        return "run the same command again to finish."
    return (
        f"the answers are kept in {store_path}: run the same command again "
        "to go on from there."
    )


def fit_or_stop(fit, recorder, human, again, on_stop):
    """Run ``fit()``; ``None`` when it ends, else the exit status of the stop.

    A person's stop (Ctrl-C, Ctrl-D, the page's button) goes to
    ``on_stop(stop)``, which writes the outputs of the answers given; an
    oracle that fails before any answer is a mistake of the command's input
    (one line), after some answers a stop without outputs. The browser
    page's server (``human``) is closed either way.
    """
    from ..oracles import AnnotationStopped, OracleError

    try:
        fit()
    except (AnnotationStopped, KeyboardInterrupt) as exc:
        return on_stop(exc)
    except OracleError as exc:
        if not recorder.answers:  # refused before a question: a mistake
            raise CommandError(str(exc)) from None
        print(
            f"\nStopped before the end ({_inert(' '.join(str(exc).split()))}); "
            f"no output was written; {again}",
            file=sys.stderr,
        )
        return 1
    finally:
        if hasattr(human, "close"):
            human.close()  # the browser page's server
    return None


def _write_results(args, table, cleaner, offline, session, outputs):
    unanswered = (
        [r for r in cleaner.history_ if not r.answered]
        if offline is None
        else offline.unanswered_
    )
    changes = _changes_frame(table, cleaner.label_changes())
    with _writing() as files:
        _write_cleaned(files, table, cleaner.y_cleaned_, changes, outputs)
        if unanswered and "--questions" in outputs:
            _write_questions(files, table, unanswered, outputs["--questions"])
    output, changes_path = outputs["--output"], outputs["--changes"]
    print(
        f"\n{cleaner.n_queries_} questions; {len(changes)} labels changed "
        f"({cleaner.n_relabeled_examples_} suspicious rows, "
        f"{cleaner.n_relabeled_counter_examples_} counter-examples)."
    )
    if cleaner.n_revised_:
        revised = cleaner.n_revised_
        print(
            f"  {revised} answer{'s' * (revised != 1)} revised by an undo, "
            "applied in this run."
        )
    if session is not None:
        print(
            f"  {session.n_replayed_} answers came from {session.store.path}, "
            f"{session.n_asked_} were asked now."
        )
        if session.needs_rerun_:
            print(
                f"  A revision was made after the fit ended: it is in "
                f"{session.store.path}; run the same command again to apply it."
            )
    replayed = getattr(cleaner.oracle.oracle, "n_replayed_", 0)
    if replayed:
        print(
            f"  {replayed} answers came from the store "
            f"{cleaner.oracle.oracle.store.path}."
        )
    if offline is not None:
        print(f"  {offline.n_answered_} answers came from the --answers files.")
    print(f"Wrote {output} (cleaned labels) and {changes_path} (what changed).")
    if unanswered:
        _say_unanswered(args, unanswered)
    return 0


@contextlib.contextmanager
def _writing():
    """:class:`OutputFiles` committed when the block succeeds, else discarded."""
    files = OutputFiles()
    try:
        yield files
        files.commit()
    except OSError as exc:
        raise CommandError(
            f"writing the outputs failed ({exc}); no output was changed."
        ) from None
    finally:
        files.discard()


def _say_unanswered(args, unanswered):
    if args.questions:
        print(
            f"{len(unanswered)} questions are unanswered: wrote them to "
            f"{args.questions}, with the values of each row. Fill in its "
            "'answer' column (and 'counter_answer' to relabel the "
            "counter-example; 'counter_answer_2'... for the others), then run "
            f"again with --answers {' '.join(args.answers + [args.questions])}"
            ". Answers change later questions: repeat until none is left."
        )
    else:
        print(
            f"{len(unanswered)} questions are unanswered; --questions FILE "
            "writes them to a file for a team to answer."
        )


def _changes_frame(table, changes):
    import pandas as pd

    changes = pd.DataFrame(changes, columns=list(CHANGE_COLUMNS))
    changes.insert(
        1, "line", table.line(changes["example_id"]).astype(int) if len(changes) else []
    )
    return changes


def _write_cleaned(files, table, y_cleaned, changes, outputs):
    """The cleaned file and the table of changes, to temporary files."""
    files.temporary(outputs["--output"]).write_bytes(table.cleaned_bytes(y_cleaned))
    changes.to_csv(files.temporary(outputs["--changes"]), index=False)


def _write_stopped(table, cleaner, recorder, outputs, again, stop):
    """Write the outputs of the answers given before a stop; the exit status.

    ``again`` is the sentence that says how to go on; ``stop`` the
    KeyboardInterrupt or AnnotationStopped that stopped the run, whose
    message (the question it stopped at) is said once, here.
    """
    return write_stopped(
        table, recorder.answers, cleaner.counter_examples, outputs, again, stop
    )


def write_stopped(table, answers, strategy, outputs, again, stop, more=None):
    """Write the outputs of ``answers`` (given before ``stop``); the exit status.

    ``more(files, y_cleaned)``, when given, writes the command's other
    outputs of the labels so far, with the same :class:`OutputFiles`.
    """
    y_cleaned, changes = _answers_so_far(table, answers, strategy)
    n = sum(not answer.skipped for _, answer in answers)
    interrupted = isinstance(stop, KeyboardInterrupt) or getattr(
        stop, "interrupted", False
    )
    status = 130 if interrupted else 1  # 130: a shell's code for Ctrl-C
    why = " ".join(str(stop).split()) or "Ctrl-C"  # Ctrl-C says nothing itself
    # the oracle's line names the question and how it stopped; what follows
    # it speaks of fits, and the next lines say what the command did
    why = re.match(r"[^(]*(\([^)]*\))?", why).group(0).rstrip(" :.")
    print(f"\n{_inert(why)}.", file=sys.stderr)
    if n == 0:
        print("Stopped before any answer; nothing written.", file=sys.stderr)
        return status
    changes = _changes_frame(table, changes)
    with _writing() as files:
        _write_cleaned(files, table, y_cleaned, changes, outputs)
        if more is not None:
            more(files, y_cleaned)
    print(
        f"Stopped after {n} answers; wrote {outputs['--output']} with the "
        f"{len(changes)} labels they changed, and {outputs['--changes']}; "
        f"{again}",
        file=sys.stderr,
    )
    return status


def _answers_so_far(table, answers, strategy):
    """``(y_cleaned, changes)``: the labels after ``answers``, applied in order
    as the cleaner applies them, and one row per label changed."""
    y = table.y.astype(object)
    changes = []
    for query, answer in answers:
        if answer.skipped:
            continue
        decided = [(query.example_id, "example", query.label, answer.label)]
        # the auditor asks some questions only to explain: the
        # counter-example keeps its label whatever the answer says
        if strategy == "relabel" and query.strategy != "explain":
            given = answer.counter_labels
            if given is None:
                given = (answer.counter_label,)
            for k, ce in enumerate(query.counter_examples):
                new = given[k] if k < len(given) else None
                decided.append(
                    (
                        ce.example_id,
                        "counter-example",
                        ce.label,
                        ce.label if new is None else new,
                    )
                )
        for example_id, role, before, after in decided:
            if after != before:
                y[example_id] = after
                changes.append(
                    {
                        "round": query.round,
                        "example_id": example_id,
                        "role": role,
                        "change": "relabeled",
                        "label_before": before,
                        "label_after": after,
                        "annotator": answer.annotator,
                    }
                )
    return y, changes


def _write_questions(files, table, questions, path):
    """Export the questions with each row's values, for a team without DATA."""
    from ..oracles import export_questions

    temporary = files.temporary(path)
    export_questions(questions, temporary, rows=table.line(np.arange(len(table.y))))
    values = [_question_values(table, q) for q in questions]
    if path.suffix.lower() == ".json":
        _add_json_values(temporary, values)
    else:
        _add_csv_values(temporary, values)


def _question_values(table, question):
    """``{column: value}``: every column of the example's row, then of each
    counter-example's (``counter-example: COLUMN``, then ``counter-example 2:
    COLUMN``...)."""
    ids = getattr(question, "counter_example_ids", None)
    if ids is None:
        ids = [ce.example_id for ce in question.counter_examples]
    out = {f"example: {k}": v for k, v in table.row_values(question.example_id).items()}
    for number, ce_id in enumerate(ids, start=1):
        prefix = "counter-example" + ("" if number == 1 else f" {number}")
        out.update({f"{prefix}: {k}": v for k, v in table.row_values(ce_id).items()})
    return out


def _add_csv_values(path, values):
    import csv

    # the encoding export_questions and read_answers use
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = list(reader.fieldnames), list(reader)
    extra = list(dict.fromkeys(k for v in values for k in v))
    at = columns.index("answer")  # the team's columns stay last
    columns = columns[:at] + extra + columns[at:]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row, more in zip(rows, values):
            writer.writerow({**row, **{k: _cell(v) for k, v in more.items()}})


def _cell(value):
    """A value of the data for a spreadsheet: text that a spreadsheet would
    run as a formula (``=...``, ``@...``) starts with an apostrophe, which
    shows it as text; numbers stay as they are."""
    if value[:1] in ("=", "+", "-", "@"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def _add_json_values(path, values):
    import json

    records = json.loads(Path(path).read_text())
    for record, more in zip(records, values):
        record.update(more)
    Path(path).write_text(json.dumps(records, indent=1) + "\n")
