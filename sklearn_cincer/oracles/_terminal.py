"""An oracle that asks a person at a terminal prompt."""

import sys

from ._base import OracleError
from ._human import _HumanOracle
from ._render import label_text, why_sentence

_UNDO = object()
_SKIP = object()


class TerminalOracle(_HumanOracle):
    """Asks a person at a prompt: for tabular and text data.

    For each question it prints the suspicious example and its
    counter-example side by side (a table of the features that differ most,
    marked with ``*``, or the two texts), their labels, the model's
    prediction and margin, and one sentence on why they are paired. Then it
    asks for the label of each: Enter keeps the current label, a number picks
    a class from the numbered list (a class's exact name works too), ``s``
    skips the question, ``u`` revises the last answer (undo), ``?`` prints
    help. Anything else gets a short explanation and the prompt again. The
    end of input (Ctrl-D) stops the session with an
    :class:`~sklearn_cincer.oracles.OracleError`; with an
    :class:`AnnotationSession` every answer given so far is kept.

    A skip keeps both labels as they are (an ``Answer`` with
    ``skipped=True``). An undo asks the previous question again; the revised
    answer goes to the revision listeners (an :class:`AnnotationSession`
    records it in its store) and takes effect when the session is run again,
    since the running cleaner has already applied the earlier answer.

    Parameters
    ----------
    display : {"auto", "tabular", "text"}, default="auto"
        "text" (the default when ``texts`` is given) prints the raw texts,
        "tabular" the features.
    render : callable, default=None
        ``render(x, example_id) -> str``: your own text for an example.
    texts : sequence of str, default=None
        The raw text of every example of the stream, indexed by stream id.
    feature_names : sequence of str, default=None
        Feature names; defaults to those the cleaner was fitted with.
    n_highlight : int, default=3
        How many of the most different features are marked.
    max_features : int, default=20
        At most this many features are printed.
    annotator : str, default=None
        Who answers, written into each answer; ``None`` writes the login
        name of the user running Python.
    stdin, stdout : file-like, default=None
        Where to read answers and write questions; ``None`` means
        ``sys.stdin`` and ``sys.stdout`` at the time of the question.

    Attributes
    ----------
    answers_ : list of (Query, Answer)
        Every answer given, in order (revisions not included).
    revisions_ : list of (Query, Answer)
        Every revised answer (undo), in order.

    See Also
    --------
    BrowserOracle : The same questions on a web page.
    AnnotationSession : Records the answers and resumes a session.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sklearn_cincer.oracles import Query, TerminalOracle
    >>> query = Query(example_id=42, x=np.array([1.0, 5.0]), label="spam",
    ...               prediction="ham", margin=0.6,
    ...               classes=np.array(["ham", "spam"]), counter_example_id=7,
    ...               counter_x=np.array([1.0, 2.0]), counter_label="ham",
    ...               feature_names=np.array(["links", "words"]))
    >>> oracle = TerminalOracle(annotator="ana", stdin=io.StringIO("x\\n1\\n\\n"),
    ...                         stdout=io.StringIO())
    >>> oracle(query)
    Answer(label='ham', counter_label='ham', annotator='ana')
    >>> print(oracle.stdout.getvalue())  # doctest: +ELLIPSIS
    =====...
    ...'x' is not a choice: type a number from 1 to 2, Enter to keep 'spam'...
    """

    def __init__(self, *, display="auto", render=None, texts=None,
                 feature_names=None, n_highlight=3, max_features=20,
                 annotator=None, stdin=None, stdout=None):
        if display == "image":
            raise ValueError(
                "TerminalOracle shows tabular and text data; use BrowserOracle "
                "for images, or pass render=... to describe an image in text."
            )
        super().__init__(display=display, render=render, texts=texts,
                         image_shape=None, feature_names=feature_names,
                         n_highlight=n_highlight, max_features=max_features,
                         annotator=annotator)
        self.stdin = stdin
        self.stdout = stdout
        self._n_questions = 0

    def __repr__(self):
        return f"TerminalOracle(annotator={self.annotator!r})"

    def __getstate__(self):
        state = super().__getstate__()
        for stream in ("stdin", "stdout"):
            if state.get(stream) is not None:
                state[stream] = None  # streams do not pickle; the default ones do
        return state

    # ------------------------------------------------------------------ io

    def _out(self):
        return sys.stdout if self.stdout is None else self.stdout

    def _write(self, text=""):
        out = self._out()
        out.write(text + "\n")
        out.flush()

    def _readline(self, prompt):
        out = self._out()
        out.write(prompt)
        out.flush()
        line = (sys.stdin if self.stdin is None else self.stdin).readline()
        if line == "":
            self._write()
            raise OracleError("The annotator closed the input (end of file).")
        return line.strip()

    # ------------------------------------------------------------ question

    def _show(self, query, title):
        example_text, counter_text = self._renderer.text_pair(query)
        self._write("=" * 72)
        self._write(f"{title} (round {query.round})")
        self._write(why_sentence(query))
        self._write(f"  #{query.example_id} (suspicious): label "
                    f"'{label_text(query.label)}', model predicts "
                    f"'{label_text(query.prediction)}', margin {query.margin:.2f}")
        if query.has_counter_example:
            score = "" if query.score is None else f", score {query.score:.3g}"
            self._write(f"  #{query.counter_example_id} (counter-example): label "
                        f"'{label_text(query.counter_label)}'{score}")
        if counter_text is None:
            self._write(_indent(example_text))
        else:
            self._write(f"--- #{query.example_id}:")
            self._write(_indent(example_text))
            self._write(f"--- #{query.counter_example_id}:")
            self._write(_indent(counter_text))
        self._write("Classes: " + "  ".join(
            f"[{i}] {label_text(c)}" for i, c in enumerate(query.classes, start=1)))

    def _help(self, n_classes):
        self._write(
            f"  1-{n_classes}: pick that class (or type its name); Enter: keep the "
            "current label; s: skip the question (keep both labels); u: revise "
            "your last answer; ?: this help."
        )

    def _choose(self, query, who, current, can_undo):
        """One label; returns a label, _SKIP or _UNDO."""
        classes = [c for c in query.classes]
        n = len(classes)
        names = {label_text(c): c for c in classes}
        prompt = (f"Label for #{who} - Enter keeps '{label_text(current)}' "
                  f"[1-{n}, s skip, u undo, ? help]: ")
        while True:
            key = self._readline(prompt)
            if key == "":
                return current
            if key.isdigit():
                k = int(key)
                if 1 <= k <= n:
                    return classes[k - 1]
                self._write(f"  {k} is not in the list: type a number from 1 to {n}.")
                continue
            low = key.lower()
            if low in ("s", "skip"):
                return _SKIP
            if low in ("u", "undo"):
                if can_undo:
                    return _UNDO
                self._write("  There is no earlier answer to revise.")
                continue
            if low in ("?", "h", "help"):
                self._help(n)
                continue
            if key in names:
                return names[key]
            self._write(
                f"  {key!r} is not a choice: type a number from 1 to {n}, Enter to "
                f"keep '{label_text(current)}', s to skip, u to undo, ? for help."
            )

    def _ask(self, query, title, can_undo):
        """Answer, or _UNDO."""
        label = self._choose(query, query.example_id, query.label, can_undo)
        if label is _UNDO:
            return _UNDO
        if label is _SKIP:
            return self._make_answer(query, None, None, skipped=True)
        counter = query.counter_label
        if self._asks_counter_label(query):
            counter = self._choose(query, query.counter_example_id,
                                   query.counter_label, can_undo)
            if counter is _UNDO:
                return _UNDO
            if counter is _SKIP:
                return self._make_answer(query, None, None, skipped=True)
        return self._make_answer(query, label, counter)

    def __call__(self, query):
        self._n_questions += 1
        title = f"Question {self._n_questions}"
        self._show(query, title)
        while True:
            can_undo = bool(self.answers_)
            answer = self._ask(query, title, can_undo)
            if answer is not _UNDO:
                if self._save(query, answer):
                    self.answers_.append((query, answer))
                    return answer
                self._show(query, title)  # not saved: asked again
                continue
            last_query, last_answer = self._last()
            self._write(f"Revising your answer about #{last_query.example_id} "
                        f"(was '{label_text(last_answer.label)}'"
                        + (f", #{last_query.counter_example_id} "
                           f"'{label_text(last_answer.counter_label)}'"
                           if last_query.has_counter_example else "")
                        + "); u here cancels.")
            self._show(last_query, "Revision")
            revised = self._ask(last_query, "Revision", can_undo=True)
            if revised is _UNDO:
                self._write("Revision cancelled.")
            else:
                try:
                    self._revised(last_query, revised)
                except Exception as exc:
                    self._write(f"Your revision was not saved ({exc}); type u to "
                                "try again.")
                else:
                    self._write(
                        ("Revision saved. " if self.durable else "Revision noted. ")
                        + "The cleaner already used the earlier answer; the "
                        "revision applies when the session is run again from its "
                        "store.")
            self._show(query, title)

    def _save(self, query, answer):
        """Hand the answer to the listeners (the store); False when it failed."""
        try:
            self._commit(query, answer)
        except Exception as exc:
            self._write(f"Your answer was not saved ({exc}); the question is "
                        "asked again.")
            return False
        if self.durable:
            self._write("Saved.")
        return True

    def _last(self):
        # the last answer, or the newest revision of it
        if self.revisions_ and self.revisions_[-1][0] is self.answers_[-1][0]:
            return self.revisions_[-1]
        return self.answers_[-1]


def _indent(text):
    return "\n".join("  " + line for line in str(text).splitlines())
