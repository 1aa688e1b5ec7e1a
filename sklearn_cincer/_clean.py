"""``sklearn-cincer clean``: clean the labels of a CSV file, no Python needed.

::

    sklearn-cincer clean data.csv --label COLUMN --output cleaned.csv \\
        [--oracle terminal|browser|none] [--store FILE] [--answers FILE ...] \\
        [--questions FILE]

The rows are streamed through :class:`~sklearn_cincer.SkepticalCleaner` in
a shuffled order (``--seed``; ``--no-shuffle`` keeps the file's order) with a
default model for tables: one-hot encoded text columns and standardized
numeric columns into a logistic regression. The person answers at the
terminal or in the browser, every answer is written to a store as it is
given (``--store``, by default next to the output), and running the same
command again resumes where it stopped. ``--oracle none`` asks nobody and
writes the questions to a file (``--questions``) for a team to answer;
``--answers`` reads the filled-in files back.
"""

import html
import sys
from pathlib import Path

import numpy as np

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


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "clean",
        help="clean the labels of a CSV file, asking you about the suspicious ones",
        description=(
            "Stream the rows of a CSV file through CINCER with a logistic "
            "regression on one-hot encoded text columns and standardized "
            "numeric columns; ask about the rows whose label the model doubts, "
            "showing a training row that supports the doubt; write the "
            "file with cleaned labels, and a table of what changed."
        ),
    )
    parser.add_argument("data", help="the CSV file (a header line, then one row "
                        "per example)")
    parser.add_argument("--label", required=True, metavar="COLUMN",
                        help="the column holding the labels to clean")
    parser.add_argument("--output", required=True, metavar="FILE",
                        help="where to write the CSV file with cleaned labels "
                        "(every row and column of DATA, in the same order)")
    parser.add_argument("--oracle", choices=("terminal", "browser", "none"),
                        default="terminal",
                        help="who answers: a prompt here, a page in the web "
                        "browser, or nobody (write the questions to "
                        "--questions) (default: %(default)s)")
    parser.add_argument("--store", metavar="FILE", default=None,
                        help="SQLite file of the answers; running again with "
                        "it resumes (default: OUTPUT with the suffix "
                        ".answers.sqlite)")
    parser.add_argument("--answers", nargs="+", metavar="FILE", default=[],
                        help="batch files answered offline (written by "
                        "--questions, 'answer' column filled in): their answers "
                        "are used first")
    parser.add_argument("--questions", metavar="FILE", default=None,
                        help="write the questions nobody answered to this CSV "
                        "or JSON file, for a team to answer (with --oracle none)")
    parser.add_argument("--changes", metavar="FILE", default=None,
                        help="the table of changed labels (default: OUTPUT with "
                        "the suffix .changes.csv)")
    parser.add_argument("--ignore", nargs="+", metavar="COLUMN", default=[],
                        help="columns that are not features (ids, free text...)")
    parser.add_argument("--threshold", type=float, default=0.2,
                        help="margin that makes a label suspicious; lower asks "
                        "more (default: %(default)s)")
    parser.add_argument("--n-bootstrap", type=int, default=None,
                        help="rows that train the first model without questions "
                        "(default: 100, or half the rows when fewer than 200)")
    parser.add_argument("--counter-examples", choices=("relabel", "none"),
                        default="relabel",
                        help="show the counter-example and let you relabel it "
                        "too (CINCER), or show the suspicious row alone "
                        "(default: %(default)s)")
    parser.add_argument("--n-counter-examples", type=_positive, default=1,
                        metavar="M",
                        help="counter-examples shown with each question, best "
                        "first; you label each (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the row order and the model (default: 0)")
    parser.add_argument("--no-shuffle", action="store_true",
                        help="stream the rows in the file's order (shuffle when "
                        "the file is sorted, e.g. by label)")
    parser.add_argument("--sep", default=",", help="field separator (default: ,)")
    parser.add_argument("--annotator", default=None,
                        help="your name, for the record (default: login name)")
    parser.set_defaults(func=run)
    return parser


# ------------------------------------------------------------------- data


class Table:
    """A CSV file as the cleaner needs it.

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

    def __init__(self, frame, label, ignore=(), shuffle=True, seed=0):
        if label not in frame.columns:
            raise ValueError(
                f"The file has no column {label!r}; its columns are "
                f"{list(map(str, frame.columns))}."
            )
        unknown = [c for c in ignore if c not in frame.columns]
        if unknown:
            raise ValueError(f"--ignore names columns the file lacks: {unknown}.")
        self.frame = frame
        self.label = label
        self.features = [c for c in frame.columns if c != label and c not in ignore]
        if not self.features:
            raise ValueError("The file has no feature column besides the label.")
        labels = frame[label]
        self.labeled = np.flatnonzero(labels.notna().to_numpy())
        self.order = self.labeled.copy()
        if shuffle:
            self.order = np.random.RandomState(seed).permutation(self.labeled)
        self.y = _labels(labels.to_numpy()[self.order])
        self.categorical, self.numeric, self.categories = [], [], []
        columns, self.n_filled = [], 0
        for i, name in enumerate(self.features):
            column = frame[name].iloc[self.order]
            if _is_numeric(frame[name]):
                values = np.array(column.to_numpy(dtype=float, na_value=np.nan))
                missing = np.isnan(values)
                if missing.all():
                    raise ValueError(f"Column {name!r} has no value at all.")
                self.n_filled += int(missing.sum())
                values[missing] = np.nanmedian(values)
                self.numeric.append(i)
            else:
                text = frame[name].astype("string").fillna(MISSING)
                categories = sorted(text.unique())
                codes = np.searchsorted(categories, text.iloc[self.order].to_numpy())
                values = codes.astype(float)
                self.categorical.append(i)
                self.categories.append(list(range(len(categories))))
            columns.append(values)
        self.X = np.column_stack(columns)

    def line(self, stream_ids):
        """The line of each stream id's row in the file (the header is line 1)."""
        return self.order[np.asarray(stream_ids, dtype=int)] + 2

    def cleaned_frame(self, y_cleaned):
        """The file with the cleaned labels, rows and columns as read."""
        out = self.frame.copy()
        labels = out[self.label].to_numpy(dtype=object)
        labels[self.order] = y_cleaned
        out[self.label] = labels
        return out


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


def default_model(table, seed=0):
    """One-hot encoded text columns, standardized numbers, logistic regression.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer._clean import Table, default_model
    >>> frame = pd.DataFrame({"color": ["red", "blue"] * 3,
    ...                       "size": [1.0, 2.0, None, 4.0, 5.0, 6.0],
    ...                       "label": ["a", "b"] * 3})
    >>> table = Table(frame, "label", shuffle=False)
    >>> default_model(table).fit(table.X, table.y).predict(table.X[:2]).tolist()
    ['a', 'b']
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if table.categorical:
        parts.append(("text", OneHotEncoder(categories=table.categories,
                                            handle_unknown="ignore",
                                            sparse_output=False),
                      table.categorical))
    if table.numeric:
        parts.append(("numbers", StandardScaler(), table.numeric))
    return Pipeline([
        ("features", ColumnTransformer(parts, sparse_threshold=0)),
        ("model", LogisticRegression(max_iter=1000, random_state=seed)),
    ])


class RowView:
    """``render(x, example_id)``: the row as in the file, for the human oracles."""

    def __init__(self, table, as_html):
        self.table = table
        self.as_html = as_html

    def __call__(self, x, example_id):
        position = self.table.order[example_id]
        row = self.table.frame.iloc[position]
        items = [(str(c), "" if _isna(row[c]) else str(row[c]))
                 for c in self.table.features]
        title = f"line {position + 2} of the file"
        if not self.as_html:
            width = max(len(name) for name, _ in items)
            return "\n".join([title] + [f"{n:>{width}}: {v}" for n, v in items])
        cells = "".join(f"<tr><th>{html.escape(n)}</th><td>{html.escape(v)}</td></tr>"
                        for n, v in items)
        return f"<p>{html.escape(title)}</p><table>{cells}</table>"


def _isna(value):
    try:
        return bool(value != value)  # NaN, pandas NA
    except TypeError:
        return False


# ---------------------------------------------------------------- command


def _oracle(args, table, store_path):
    """``(oracle, human, offline, session)`` for the options given."""
    from .oracles import AnnotationSession, OfflineAnswers

    human = None
    if args.oracle != "none":
        from .oracles import BrowserOracle, TerminalOracle

        kind = TerminalOracle if args.oracle == "terminal" else BrowserOracle
        options = {"annotator": args.annotator,
                   "feature_names": [str(c) for c in table.features]}
        if table.categorical:  # codes mean nothing to people: show the file's row
            options["render"] = RowView(table, as_html=args.oracle == "browser")
        human = kind(**options)
    offline = OfflineAnswers(args.answers, fallback=human) if args.answers else None
    oracle = offline if offline is not None else human
    session = None
    if human is not None:
        store_path.parent.mkdir(parents=True, exist_ok=True)
        session = oracle = AnnotationSession(oracle, store_path)
    return oracle, human, offline, session


def run(args):
    """Run ``sklearn-cincer clean``; returns the exit status."""
    try:
        import pandas as pd
    except ImportError:
        print("sklearn-cincer clean: error: reading CSV files needs pandas "
              "(pip install pandas).", file=sys.stderr)
        return 1
    from . import SkepticalCleaner
    from ._spellings import describe_variants, spelling_variants
    from .oracles import OracleError, export_questions

    output = Path(args.output)
    if args.questions and args.questions in args.answers:
        print("sklearn-cincer clean: error: --questions would overwrite one of "
              "the --answers files; name the next batch differently.",
              file=sys.stderr)
        return 1
    store_path = Path(args.store) if args.store else output.with_suffix(
        ".answers.sqlite")
    changes_path = Path(args.changes) if args.changes else output.with_suffix(
        ".changes.csv")
    try:
        frame = pd.read_csv(args.data, sep=args.sep)
        table = Table(frame, args.label, ignore=args.ignore,
                      shuffle=not args.no_shuffle, seed=args.seed)
    except (OSError, ValueError) as exc:
        print(f"sklearn-cincer clean: error: {exc}", file=sys.stderr)
        return 1
    n = len(table.y)
    n_bootstrap = args.n_bootstrap or (100 if n >= 200 else max(2, n // 2))
    print(f"{args.data}: {len(frame)} rows, {len(table.features)} features "
          f"({len(table.categorical)} text, {len(table.numeric)} numeric), "
          f"label {args.label!r} with {len(np.unique(table.y))} classes.")
    for line in describe_variants(spelling_variants(table.y)):
        print(f"  Labels that differ only in case or spaces: {line}. The model "
              "takes each for a class of its own; merge them in the file.")
    if len(table.labeled) < len(frame):
        print(f"  {len(frame) - len(table.labeled)} rows without a label are "
              "written back unchanged.")
    if table.n_filled:
        print(f"  Missing numbers ({table.n_filled}) are read as their "
              "column's median (the output keeps them missing).")
    order = "the file's" if args.no_shuffle else "a shuffled"
    print(f"The first {n_bootstrap} rows (in {order} order) train the model; the "
          f"other {n - n_bootstrap} are checked one at a time.", flush=True)

    oracle, human, offline, session = _oracle(args, table, store_path)
    if session is not None:
        print(f"Answers are saved in {store_path} as you give them; run the "
              "same command again to resume.", flush=True)
    cleaner = SkepticalCleaner(
        default_model(table, args.seed), oracle=oracle, threshold=args.threshold,
        counter_examples=args.counter_examples, n_bootstrap=n_bootstrap,
        n_counter_examples=args.n_counter_examples,
        refit="incremental", random_state=args.seed,
        verbose=1 if session is None else 0,
        # Without a person nothing waits for the model to learn an answer
        # (and an answer that changes a label updates it at once): updating
        # as the training set grows by 1% costs about 100 fits in all, a
        # refit per row one per row. Runs with --answers keep the schedule of
        # the --oracle none run that wrote the batches, so as to reach the
        # same questions.
        refit_every=(_NO_ORACLE_REFIT if args.oracle == "none" or args.answers
                     else 1),
    )
    try:
        cleaner.fit(table.X, table.y)
    except (OracleError, KeyboardInterrupt) as exc:
        print(f"\nStopped before the end ({exc or 'interrupted'}). Every answer "
              f"given so far is in {store_path}: run the same command again to "
              "go on from there.", file=sys.stderr)
        return 1
    finally:
        if hasattr(human, "close"):
            human.close()  # the browser page's server
    return _write_results(args, table, cleaner, offline, session, output,
                          changes_path, export_questions)


def _write_results(args, table, cleaner, offline, session, output, changes_path,
                   export_questions):
    import pandas as pd

    output.parent.mkdir(parents=True, exist_ok=True)
    table.cleaned_frame(cleaner.y_cleaned_).to_csv(output, index=False)
    changes = pd.DataFrame(cleaner.label_changes())
    changes.insert(1, "line", table.line(changes["example_id"]).astype(int)
                   if len(changes) else [])
    changes.to_csv(changes_path, index=False)
    unanswered = (
        [r for r in cleaner.history_ if not r.answered] if offline is None
        else offline.unanswered_
    )
    print(f"\n{cleaner.n_queries_} questions; {len(changes)} labels changed "
          f"({cleaner.n_relabeled_examples_} suspicious rows, "
          f"{cleaner.n_relabeled_counter_examples_} counter-examples).")
    if session is not None:
        print(f"  {session.n_replayed_} answers came from {session.store.path}, "
              f"{session.n_asked_} were asked now.")
    if offline is not None:
        print(f"  {offline.n_answered_} answers came from the --answers files.")
    print(f"Wrote {output} (cleaned labels) and {changes_path} (what changed).")
    if unanswered:
        if args.questions:
            lines = table.line(np.arange(len(table.y)))
            export_questions(unanswered, args.questions, rows=lines)
            print(f"{len(unanswered)} questions are unanswered: wrote them to "
                  f"{args.questions}. Fill in its 'answer' column (and "
                  "'counter_answer' to relabel the counter-example; "
                  "'counter_answer_2'... for the others), then run "
                  f"again with --answers {' '.join(args.answers + [args.questions])}"
                  ". Answers change later questions: repeat until none is left.")
        else:
            print(f"{len(unanswered)} questions are unanswered; --questions FILE "
                  "writes them to a file for a team to answer.")
    return 0
