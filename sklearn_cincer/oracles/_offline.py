"""Offline batches: export the cleaner's questions to a file, answer them later.

A run with ``oracle=None`` records every question it would ask. A team
answers them in a spreadsheet (CSV) or a JSON file, and a new run takes the
answers from the file with :class:`OfflineAnswers`. Later questions depend on
earlier answers (an answer that changes a label changes the model), so the
run with the answers may come to questions that the file lacks: they are
skipped and listed in ``unanswered_``, the next batch. Batches repeat until
nothing is left unanswered; the run is then exactly the interactive run with
the same answers.
"""

import csv
import json
import math
from pathlib import Path

from ._base import Answer, OracleError, plain

# The columns of a batch file: the question, then what the team fills in.
QUESTION_COLUMNS = (
    "question",
    "round",
    "example_id",
    "row",
    "label",
    "prediction",
    "margin",
    "counter_example_id",
    "counter_row",
    "counter_label",
    "score",
)
ANSWER_COLUMNS = ("answer", "counter_answer", "annotator")
# With several counter-examples per question, the k-th (k >= 2) has these,
# suffixed "_k": its question columns after "score", its answer after
# "counter_answer". The first keeps the columns above.
MORE_QUESTION_COLUMNS = ("counter_example_id", "counter_row", "counter_label", "score")
MORE_ANSWER_COLUMNS = ("counter_answer",)


def _fields(question):
    """The common fields of a ``Query`` or a ``QueryRecord``.

    ``"more"`` lists the counter-examples after the first, as
    ``(id, label, score)``.
    """
    if hasattr(question, "label_before"):  # a QueryRecord
        label, counter_label = question.label_before, question.counter_label_before
        shown = list(
            zip(
                question.counter_example_ids,
                question.counter_labels_before,
                question.scores,
            )
        )
    else:
        label, counter_label = question.label, question.counter_label
        shown = [
            (ce.example_id, ce.label, ce.score) for ce in question.counter_examples
        ]
    return {
        "round": int(question.round),
        "example_id": int(question.example_id),
        "label": plain(label),
        "prediction": plain(question.prediction),
        "margin": float(question.margin),
        "counter_example_id": (
            None
            if question.counter_example_id is None
            else int(question.counter_example_id)
        ),
        "counter_label": plain(counter_label),
        "score": None if question.score is None else float(question.score),
        "more": [
            (int(i), plain(lab), None if sc is None else float(sc))
            for i, lab, sc in shown[1:]
        ],
    }


def _more_columns(columns, n_more):
    """``columns`` suffixed ``_2`` to ``_{n_more + 1}``, counter-example after
    counter-example."""
    return tuple(f"{c}_{k}" for k in range(2, n_more + 2) for c in columns)


def _text(value):
    return "" if value is None else str(plain(value))


def _key(example_id, counter_example_id, label, counter_label, more=()):
    """Same examples with the same current labels: the same question.

    Labels are compared as text, so that a CSV round trip (where every value
    is text) finds the questions again. ``more``: ``(id, label)`` of the
    counter-examples after the first.
    """
    return (
        int(example_id),
        None if counter_example_id in (None, "") else int(counter_example_id),
        _text(label),
        _text(counter_label),
    ) + tuple((int(i), _text(lab)) for i, lab in more)


def export_questions(questions, path, *, rows=None):
    """Write questions to a CSV or JSON file for people to answer offline.

    Parameters
    ----------
    questions : list of QueryRecord or Query
        The questions: the ``history_`` of a cleaner fit with ``oracle=None``
        (every question it would have asked), or the ``unanswered_`` of an
        :class:`OfflineAnswers` (the next batch).
    path : str or path-like
        ``.csv`` (for a spreadsheet) or ``.json``. Columns: the question's
        number, round, ``example_id`` (stream id), ``row``, current
        ``label``, the model's ``prediction``, ``margin``, the
        counter-example's ``counter_example_id``, ``counter_row``,
        ``counter_label`` and ``score``, then the empty columns the team
        fills: ``answer`` (the label the example should have),
        ``counter_answer`` (the counter-example's; empty keeps it) and
        ``annotator``. Questions with several counter-examples
        (``n_counter_examples > 1``) add, for the k-th one from the second,
        ``counter_example_id_k``, ``counter_row_k``, ``counter_label_k`` and
        ``score_k`` after ``score``, and ``counter_answer_k`` after
        ``counter_answer``; the first keeps the columns above.
    rows : sequence, default=None
        A name for each stream id, written to ``row`` and ``counter_row`` so
        that people can find the examples in their data: a DataFrame's
        ``index``, the line numbers of a CSV file... Default: the stream id.

    Returns
    -------
    n_questions : int
        The number of questions written.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import SkepticalCleaner
    >>> from sklearn_cincer.oracles import export_questions
    >>> X = np.r_[np.linspace(0, 1, 20), np.linspace(2, 3, 20), [0.1]][:, None]
    >>> y = np.r_[np.zeros(20, int), np.ones(21, int)]
    >>> cleaner = SkepticalCleaner(LogisticRegression(), n_bootstrap=40).fit(X, y)
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "batch1.csv")
    >>> export_questions(cleaner.history_, path)
    1
    >>> print(open(path).read().splitlines()[0])
    question,round,example_id,row,label,prediction,margin,counter_example_id,counter_row,counter_label,score,answer,counter_answer,annotator
    """
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".json"):
        raise ValueError(f"Write questions to a .csv or .json file, not {path.name!r}.")
    fields = [_fields(question) for question in questions]
    n_more = max([len(f["more"]) for f in fields], default=0)
    question_columns = QUESTION_COLUMNS + _more_columns(MORE_QUESTION_COLUMNS, n_more)
    answer_columns = (
        ANSWER_COLUMNS[:2]
        + _more_columns(MORE_ANSWER_COLUMNS, n_more)
        + ANSWER_COLUMNS[2:]
    )
    records = []
    for number, field in enumerate(fields, start=1):
        record = {"question": number, **field}
        record["row"] = _row_name(rows, field["example_id"])
        counter = field["counter_example_id"]
        record["counter_row"] = None if counter is None else _row_name(rows, counter)
        for k, (ce_id, label, score) in enumerate(field["more"], start=2):
            record.update(
                {
                    f"counter_example_id_{k}": ce_id,
                    f"counter_row_{k}": _row_name(rows, ce_id),
                    f"counter_label_{k}": label,
                    f"score_{k}": score,
                }
            )
        record = {key: record.get(key) for key in question_columns}
        record.update({key: None for key in answer_columns})
        records.append(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(records, indent=1) + "\n")
    else:
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=question_columns + answer_columns
            )
            writer.writeheader()
            for record in records:
                writer.writerow({k: _text(v) for k, v in record.items()})
    return len(records)


def _row_name(rows, example_id):
    return example_id if rows is None else plain(rows[example_id])


def read_answers(path):
    """The answered rows of a batch file, as dicts.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`export_questions`, with ``answer`` filled in
        where the team answered; rows whose ``answer`` is empty are left out.

    Returns
    -------
    answers : list of dict
        ``example_id``, ``counter_example_id``, ``label``,
        ``counter_label`` (the question) and ``answer``, ``counter_answer``,
        ``annotator``; empty cells are None. A question with several
        counter-examples adds the lists ``counter_example_ids``,
        ``counter_labels`` and ``counter_answers``, one entry per
        counter-example (the first one's included).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_cincer.oracles import read_answers
    >>> path = os.path.join(tempfile.mkdtemp(), "answers.csv")
    >>> _ = open(path, "w").write(
    ...     "example_id,counter_example_id,label,counter_label,answer,counter_answer\\n"
    ...     "40,12,1,1,0,\\n"
    ...     "41,12,1,1,,\\n")
    >>> read_answers(path)  # doctest: +NORMALIZE_WHITESPACE
    [{'example_id': 40, 'counter_example_id': 12, 'label': '1',
      'counter_label': '1', 'answer': '0', 'counter_answer': None,
      'annotator': None}]
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        rows = json.loads(path.read_text())
    else:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    needed = ("example_id", "label", "answer")
    answers = []
    for number, row in enumerate(rows, start=1):
        missing = [key for key in needed if key not in row]
        if missing:
            raise ValueError(
                f"{path.name}: row {number} lacks the column(s) {missing}; an "
                "answers file is a file written by export_questions with the "
                "'answer' column filled in."
            )
        more = _more_of(row)
        row = {
            key: _blank_to_none(row.get(key))
            for key in (
                "example_id",
                "counter_example_id",
                "label",
                "counter_label",
                *ANSWER_COLUMNS,
            )
        }
        if row["answer"] is None:
            continue
        ids = [row["counter_example_id"]] + [ce_id for ce_id, _, _ in more]
        try:
            row["example_id"] = int(row["example_id"])
            ids = [None if i is None else int(i) for i in ids]
        except (TypeError, ValueError):
            raise ValueError(
                f"{path.name}: row {number} has example ids "
                f"{row['example_id']!r}, {', '.join(repr(i) for i in ids)}; they "
                "must be integers."
            ) from None
        row["counter_example_id"] = ids[0]
        if more:
            row["counter_example_ids"] = ids
            row["counter_labels"] = [row["counter_label"]] + [lab for _, lab, _ in more]
            row["counter_answers"] = [row["counter_answer"]] + [a for _, _, a in more]
        answers.append(row)
    return answers


def _more_of(row):
    """``(id, label, answer)`` of the counter-examples after the first."""
    more, k = [], 2
    while _blank_to_none(row.get(f"counter_example_id_{k}")) is not None:
        more.append(
            tuple(
                _blank_to_none(row.get(f"{c}_{k}"))
                for c in ("counter_example_id", "counter_label", "counter_answer")
            )
        )
        k += 1
    return more


def _blank_to_none(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def _as_class(value, classes, what, query):
    """``value`` (maybe text) as one of ``classes``."""
    for cls in classes:
        if plain(cls) == value:
            return plain(cls)
    for cls in classes:
        if _text(cls) == _text(value):
            return plain(cls)
    raise OracleError(
        f"The answers file gives {what} {value!r} for example "
        f"{query.example_id}, which is not one of the classes "
        f"{[_text(c) for c in classes]}."
    )


class OfflineAnswers:
    """An oracle that answers from batch files (or a list of answered rows).

    A question found in the answers (the same example and counter-examples
    with the same current labels) gets its answer. Any other question goes
    to ``fallback`` when given (for example a
    :class:`~sklearn_cincer.oracles.TerminalOracle`, to answer the rest in
    person); without one it is skipped (both labels kept, as with
    ``oracle=None``) and added to ``unanswered_``: export those with
    :func:`export_questions` for the next batch.

    What offline answering can and cannot do: the first batch holds the
    questions of a run in which nothing is answered. Once an answer changes
    a label the model changes, so the run with the answers may come to
    questions no batch holds (and no longer to some that a batch holds,
    which then stay unused). Each batch extends the part of the run that
    matches an interactive one; when a run leaves nothing unanswered, it is
    exactly the interactive run with those answers. Answering everything in
    one batch is possible only when few answers change labels.

    Parameters
    ----------
    answers : str, path-like, list of those, or list of dict
        Batch files written by :func:`export_questions` and filled in (later
        files win for the same question), or rows as :func:`read_answers`
        returns them.
    fallback : callable, default=None
        The oracle for questions not in the answers; None skips them.
    annotator : str, default="offline"
        Recorded for answers whose ``annotator`` cell is empty.

    Attributes
    ----------
    unanswered_ : list of Query
        The questions skipped for want of an answer, in order.
    n_answered_ : int
        Questions answered from the files.
    n_unused_ : int
        Answers in the files that no question matched (yet).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import SkepticalCleaner
    >>> from sklearn_cincer.oracles import OfflineAnswers
    >>> X = np.r_[np.linspace(0, 1, 20), np.linspace(2, 3, 20), [0.1]][:, None]
    >>> y = np.r_[np.zeros(20, int), np.ones(21, int)]
    >>> first = SkepticalCleaner(LogisticRegression(), n_bootstrap=40).fit(X, y)
    >>> record = first.history_[0]
    >>> answers = [{"example_id": record.example_id,
    ...             "counter_example_id": record.counter_example_id,
    ...             "label": record.label_before,
    ...             "counter_label": record.counter_label_before,
    ...             "answer": 0, "counter_answer": None, "annotator": "team"}]
    >>> oracle = OfflineAnswers(answers)
    >>> cleaned = SkepticalCleaner(LogisticRegression(), n_bootstrap=40,
    ...                            oracle=oracle).fit(X, y)
    >>> int(cleaned.y_cleaned_[40]), oracle.n_answered_, oracle.unanswered_
    (0, 1, [])
    """

    def __init__(self, answers, *, fallback=None, annotator="offline"):
        self.answers = answers
        self.fallback = fallback
        self.annotator = annotator
        self._table = {}
        for row in self._rows(answers):
            more = list(
                zip(
                    row.get("counter_example_ids", [])[1:],
                    row.get("counter_labels", [])[1:],
                )
            )
            key = _key(
                row["example_id"],
                row.get("counter_example_id"),
                row.get("label"),
                row.get("counter_label"),
                more,
            )
            self._table[key] = row
        self._used = set()
        self.unanswered_ = []
        self.n_answered_ = 0

    @staticmethod
    def _rows(answers):
        if isinstance(answers, (str, Path)):
            return read_answers(answers)
        rows = []
        for item in answers:
            rows.extend(read_answers(item) if isinstance(item, (str, Path)) else [item])
        return rows

    @property
    def n_unused_(self):
        return len(self._table) - len(self._used)

    def __call__(self, query):
        key = _key(
            query.example_id,
            query.counter_example_id,
            query.label,
            query.counter_label,
            [(ce.example_id, ce.label) for ce in query.counter_examples[1:]],
        )
        row = self._table.get(key)
        if row is None:
            if self.fallback is not None:
                return self.fallback(query)
            self.unanswered_.append(query)
            return Answer(
                label=query.label, counter_label=query.counter_label, skipped=True
            )
        self._used.add(key)
        self.n_answered_ += 1
        label = _as_class(row["answer"], query.classes, "label", query)
        given = row.get("counter_answers") or [row.get("counter_answer")]
        decided = [
            None
            if value is None
            else _as_class(value, query.classes, "counter-example label", query)
            for value in given[: len(query.counter_examples)]
        ]
        counter_label = decided[0] if decided else None
        counter_labels = tuple(decided) if len(decided) > 1 else None
        return Answer(
            label=label,
            counter_label=counter_label,
            counter_labels=counter_labels,
            annotator=row.get("annotator") or self.annotator,
        )

    # A session wrapping this oracle registers listeners on it; they belong to
    # the person behind ``fallback`` (revisions, answers to save at once).

    def add_revision_listener(self, listener):
        """Pass revisions (undo) of the fallback oracle on to ``listener``."""
        self._forward("add_revision_listener", listener)

    def remove_revision_listener(self, listener):
        """Stop passing the fallback oracle's revisions on to ``listener``."""
        self._forward("remove_revision_listener", listener)

    def end_of_questions(self):
        """Passed on to the fallback oracle: the fit asks nothing more."""
        self._forward_call("end_of_questions")

    def _forward_call(self, name):
        call = getattr(self.fallback, name, None)
        if call is not None:
            call()

    def add_answer_listener(self, listener):
        """Pass the fallback oracle's answers on to ``listener`` as given."""
        self._forward("add_answer_listener", listener)

    def _forward(self, name, listener):
        register = getattr(self.fallback, name, None)
        if register is not None:
            register(listener)

    def __repr__(self):
        return f"OfflineAnswers({len(self._table)} answers)"
