"""An oracle that asks a person at a terminal prompt."""

import contextlib
import sys

from ._base import AnnotationStopped, answer_labels
from ._human import _HumanOracle
from ._render import (
    counter_title,
    inert,
    progress_text,
    support_text,
    sure_text,
    why_sentence,
)

_UNDO = object()
_SKIP = object()


class _EndOfInput(Exception):
    """The person stopped at a prompt: the input ended (Ctrl-D), or Ctrl-C."""

    def __init__(self, how, *, interrupted=False):
        super().__init__(how)
        self.interrupted = interrupted


class TerminalOracle(_HumanOracle):
    """Asks a person at a prompt: for tabular and text data.

    For each question it prints how far the session has come, the
    suspicious example and its counter-example side by side (a table of the
    features that differ most, marked with ``*``, or the two texts), their
    labels, what the model predicts and how sure it is, and one sentence on
    why they are paired. Then it asks for the label of each. With several
    counter-examples (the cleaner's ``n_counter_examples``) the table has a
    column pair per counter-example, and it asks for each label in turn,
    best counter-example first.

    **Typing a label.** What you type is the class itself, never its
    position in a list: ``4`` is the class 4. A class is its code (``4``,
    ``spam``) or its name from ``class_names``, typed out or by an
    unambiguous first part of it (``sp`` for ``spam``, ignoring case; a
    number must be typed whole). At a terminal, Tab completes a label.
    Enter keeps the current label, ``s`` skips the question, ``u`` goes back
    (undo), ``?`` prints help; anything else gets a short explanation and
    the prompt again. Each label is echoed as it was read
    (``#12 -> 4 (was 3)``), and the answer as it is passed on
    (``answer: ...``). ``u`` at a counter-example's prompt takes back the
    label just typed; at the first prompt of the next question it revises
    the answer. When a fit has no more questions, a last prompt lets you
    revise your last answer (Enter, or the end of input, finishes).

    **Stopping.** The end of input (Ctrl-D) or Ctrl-C at a prompt stops the
    session: the oracle raises
    :class:`~sklearn_cincer.oracles.AnnotationStopped` with one line that
    says what stopped it and at which question (the cleaner's own count),
    and the cleaner passes it on (no traceback of the oracle's internals),
    left exactly as it was. The line is the exception's message, printed
    once by whoever catches it (``sklearn-cincer clean``, or Python's
    traceback), not by the oracle too. The answers given are in
    ``answers_``; with an :class:`AnnotationSession` they are in its store,
    and running the same fit again replays them and resumes at the question
    where you stopped.

    A skip keeps both labels as they are (an ``Answer`` with
    ``skipped=True``). An undo asks the previous question again; the revised
    answer goes to the revision listeners (an :class:`AnnotationSession`
    records it in its store) and the running cleaner applies it before it
    goes on.

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
    class_names : dict or sequence of str, default=None
        Names shown instead of the class codes: a dict ``{class: name}``
        naming every class, or one name per class in the order of the sorted
        classes. Names must differ (ignoring case). Both the name and the
        code may be typed.
    annotator : str, default=None
        Who answers, written into each answer; ``None`` writes the login
        name of the user running Python.
    example_name : callable, default=None
        ``example_name(example_id) -> str``: the one name an example is
        given, in prompts and sentences alike (``sklearn-cincer clean``
        names a row by its line in the file: ``"line 268"``). ``None`` names
        it by its stream id: ``#106``.
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
    >>> oracle = TerminalOracle(annotator="ana", stdin=io.StringIO("x\\nh\\n\\n"),
    ...                         stdout=io.StringIO())
    >>> oracle(query)
    Answer(label='ham', counter_label='ham', annotator='ana')
    >>> print(oracle.stdout.getvalue())  # doctest: +ELLIPSIS
    =====...
    ...'x' is not one of the classes (ham, spam)...
    answer: #42 -> ham (was spam), #7 -> ham (kept)

    With integer classes, the digit typed is the class; ``class_names``
    shows names (which may be typed too):

    >>> query = Query(example_id=3, x=np.array([0.0, 1.0]), label=3,
    ...               prediction=4, margin=0.8, classes=np.arange(10))
    >>> oracle = TerminalOracle(annotator="ana", stdin=io.StringIO("4\\n"),
    ...                         stdout=io.StringIO())
    >>> oracle(query)
    Answer(label=4, counter_label=None, annotator='ana')
    >>> names = ["zero", "one", "two", "three", "four", "five", "six", "seven",
    ...          "eight", "nine"]
    >>> oracle = TerminalOracle(annotator="ana", class_names=names,
    ...                         stdin=io.StringIO("fi\\n"), stdout=io.StringIO())
    >>> oracle(query)
    Answer(label=5, counter_label=None, annotator='ana')
    >>> oracle.stdout.getvalue().splitlines()[-1]
    'answer: #3 -> five (was three)'
    """

    def __init__(
        self,
        *,
        display="auto",
        render=None,
        texts=None,
        feature_names=None,
        n_highlight=3,
        max_features=20,
        class_names=None,
        annotator=None,
        example_name=None,
        stdin=None,
        stdout=None,
    ):
        if display == "image":
            raise ValueError(
                "TerminalOracle shows tabular and text data; use BrowserOracle "
                "for images, or pass render=... to describe an image in text."
            )
        super().__init__(
            display=display,
            render=render,
            texts=texts,
            image_shape=None,
            feature_names=feature_names,
            n_highlight=n_highlight,
            max_features=max_features,
            annotator=annotator,
            class_names=class_names,
            example_name=example_name,
        )
        self.stdin = stdin
        self.stdout = stdout
        self._n_questions = 0
        self._open_answer = False  # answered since the last end of questions

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
        out.write(inert(text) + "\n")
        out.flush()

    def _readline(self, prompt, choices):
        prompt = inert(prompt)
        if self.stdin is None and self.stdout is None:
            # input() is where readline (Tab completion, line editing) and
            # Jupyter's own prompt live
            try:
                with _completion(choices):
                    line = input(prompt)
            except EOFError:
                line = None
            except KeyboardInterrupt:
                self._write()
                raise _EndOfInput("interrupted: Ctrl-C", interrupted=True) from None
        else:
            out = self._out()
            out.write(prompt)
            out.flush()
            line = (sys.stdin if self.stdin is None else self.stdin).readline()
            line = line or None
        if line is None:
            self._write()
            raise _EndOfInput("end of input")
        return line.strip()

    # ------------------------------------------------------------ question

    def _show(self, query, revision=False):
        choices = self._choices(query)
        name, short = choices.name, self._naming.short
        example_text, counter_texts = self._renderer.text_views(query)
        self._write("=" * 72)
        if revision:
            self._write("Revision of your last answer")
        else:
            progress = progress_text(query, self._n_questions)
            self._write(progress[0].upper() + progress[1:])
        self._write(why_sentence(query, name, self._naming))
        self._write(
            f"  {short(query.example_id)} (suspicious): label "
            f"'{name(query.label)}', the model says "
            f"'{name(query.prediction)}', {sure_text(query.margin)}"
        )
        for k, ce in enumerate(query.counter_examples):
            support = support_text(ce.score, ce.score_text)
            self._write(
                f"  {short(ce.example_id)} ({counter_title(query, k)}): label "
                f"'{name(ce.label)}'" + (f", {support}" if support else "")
            )
        if not counter_texts:
            self._write(_indent(example_text))
        else:
            self._write(f"--- {short(query.example_id)}:")
            self._write(_indent(example_text))
            for ce, text in zip(query.counter_examples, counter_texts):
                self._write(f"--- {short(ce.example_id)}:")
                self._write(_indent(text))
        self._write(f"Classes: {choices.listing()}   (type {_how_to_type(choices)})")

    def _help(self, choices):
        self._write(
            f"  Type {_how_to_type(choices)}. Enter: keep the current "
            "label; s: skip the question (keep both labels); u: go back (to "
            "the label just typed, or at the first prompt to your last "
            "answer); ?: this help. Ctrl-D stops the session."
        )

    def _choose(self, query, who, current, can_undo):
        """One label; returns a label, _SKIP or _UNDO."""
        choices = self._choices(query)
        tag = self._naming.short(who)
        prompt = (
            f"Label for {tag} - Enter keeps '{choices.name(current)}' "
            "[s skip, u undo, ? help]: "
        )
        while True:
            key = self._readline(prompt, choices)
            if key == "":
                label = current
            else:
                kind, value = choices.resolve(key)
                if kind == "skip":
                    return _SKIP
                if kind == "undo":
                    if can_undo:
                        return _UNDO
                    self._write("  There is no earlier answer to revise.")
                    continue
                if kind == "help":
                    self._help(choices)
                    continue
                if kind == "error":
                    self._write(
                        f"  {value}. Type {_how_to_type(choices)}; Enter keeps "
                        f"'{choices.name(current)}', s skips, u undoes, ? helps."
                    )
                    continue
                label = choices.classes[value]
            self._write(f"  {tag} -> {_change(choices, label, current)}")
            return label

    def _ask(self, query, can_undo):
        """Answer, or _UNDO: the example's label, then each counter-example's.

        ``u`` at a counter-example's prompt goes back to the label typed
        before it; only at the first prompt does it mean the earlier answer.
        """
        steps = [(query.example_id, query.label)]
        if self._asks_counter_label(query):
            steps += [(ce.example_id, ce.label) for ce in query.counter_examples]
        typed = []
        while len(typed) < len(steps):
            who, current = steps[len(typed)]
            value = self._choose(query, who, current, can_undo or bool(typed))
            if value is _UNDO:
                if not typed:
                    return _UNDO
                typed.pop()
                self._write(f"  Back to #{steps[len(typed)][0]}.")
                continue
            typed.append(value)
            if value is _SKIP:
                break
        label, counters = typed[0], typed[1:]
        if _SKIP in typed:
            label = _SKIP
        if label is _SKIP:
            self._write(
                "skipped: "
                + (
                    "both labels stay as they are"
                    if len(query.counter_examples) < 2
                    else "every label stays as it is"
                )
            )
            return self._make_answer(query, None, skipped=True)
        answer = self._make_answer(query, label, counters)
        self._write(
            "answer: " + _answer_text(self._choices(query), query, answer, self._naming)
        )
        return answer

    def __call__(self, query):
        self._n_questions += 1
        try:
            self._show(query)
            while True:
                can_undo = bool(self.answers_)
                answer = self._ask(query, can_undo)
                if answer is not _UNDO:
                    if self._save(query, answer):
                        self.answers_.append((query, answer))
                        self._open_answer = True
                        return answer
                    self._show(query)  # not saved: asked again
                    continue
                self._revise()
                self._show(query)
        except _EndOfInput as end:
            raise AnnotationStopped(
                self._stopped(query, end.args[0]), interrupted=end.interrupted
            ) from None

    def _revise(self):
        last_query, last_answer = self._last()
        choices = self._choices(last_query)
        labels = answer_labels(last_answer, last_query)[1]
        short = self._naming.short  # the one name the person reads a row by
        self._write(
            f"Revising your answer about {short(last_query.example_id)} "
            f"(was '{choices.name(last_answer.label)}'"
            + "".join(
                f", {short(ce.example_id)} '{choices.name(label)}'"
                for ce, label in zip(last_query.counter_examples, labels)
            )
            + "); u here cancels."
        )
        self._show(last_query, revision=True)
        revised = self._ask(last_query, can_undo=True)
        if revised is _UNDO:
            self._write("Revision cancelled.")
        else:
            try:
                live = self._revised(last_query, revised)
            except Exception as exc:
                self._write(
                    f"Your revision was not saved ({exc}); type u to try again."
                )
            else:
                self._write(self._revision_text(live))

    def end_of_questions(self):
        """Called by the cleaner when its fit has no more questions.

        The last answer can still be revised here, so that the running fit
        applies the revision: Enter, or the end of input, finishes.
        """
        if not (self._open_answer and self.answers_):
            return
        self._open_answer = False
        prompt = (
            "No more questions in this fit. Enter finishes, u revises "
            "your last answer: "
        )
        while True:
            try:
                key = self._readline(prompt, self._choices(self._last()[0]))
            except _EndOfInput:
                return
            if key == "":
                return
            if key.lower() in ("u", "undo"):
                self._revise()
                continue
            self._write(
                "  Press Enter to finish, or type u to revise your last answer."
            )

    def _stopped(self, query, how):
        """The one line that says the session stopped, how, and where.

        The question is the cleaner's own number (``query.question``), which
        counts the questions a session replayed from its store; the answers
        are those given to this oracle. Not printed here: it is the message
        of the exception, which whoever catches it prints once.
        """
        answered, skipped = self._tally()
        given = f"{answered} answer{'s' * (answered != 1)} given" + (
            f", {skipped} skipped" if skipped else ""
        )
        if query.question and query.question != self._n_questions:
            given += " in this run"  # the others came from the store
        with self._listeners_lock:
            in_store = bool(self._listeners)  # an AnnotationSession listens
        where = (
            "kept in the session's store: run the same fit again to resume here."
            if in_store
            else "kept in oracle.answers_; with an AnnotationSession they would "
            "be kept in a file, and the same fit run again would resume here."
        )
        question = query.question or self._n_questions
        return f"The annotator stopped at question {question} ({how}): {given}, {where}"

    def _save(self, query, answer):
        """Hand the answer to the listeners (the store); False when it failed."""
        try:
            self._commit(query, answer)
        except Exception as exc:
            self._write(
                f"Your answer was not saved ({exc}); the question is asked again."
            )
            return False
        if self.durable:
            self._write("Saved.")
        return True

    def _last(self):
        # the last answer, or the newest revision of it
        if self.revisions_ and self.revisions_[-1][0] is self.answers_[-1][0]:
            return self.revisions_[-1]
        return self.answers_[-1]


def _how_to_type(choices):
    if choices.digits:
        return (
            "the class's digit or name"
            if choices.names != choices.codes
            else "the class's digit"
        )
    return "a label or its first letters; Tab completes"


def _change(choices, label, before):
    """``"4 (was 3)"`` or ``"3 (kept)"``, in the names the person sees."""
    if choices.index(label) == choices.index(before):
        return f"{choices.name(label)} (kept)"
    return f"{choices.name(label)} (was {choices.name(before)})"


def _answer_text(choices, query, answer, naming):
    """``"#12 -> 4 (was 3), #7 -> 4 (kept)"``, every counter-example listed."""
    short = naming.short
    text = f"{short(query.example_id)} -> {_change(choices, answer.label, query.label)}"
    if answer.counter_label is None and answer.counter_labels is None:
        return text
    for ce, label in zip(query.counter_examples, answer_labels(answer, query)[1]):
        text += f", {short(ce.example_id)} -> {_change(choices, label, ce.label)}"
    return text


@contextlib.contextmanager
def _completion(choices):
    """Tab completes the class names while a label is typed at a terminal.

    Uses readline where Python has it (not on Windows) and only on a real
    terminal; the completer, its word delimiters and the history the person
    had are restored afterwards.
    """
    try:
        import readline
    except ImportError:
        readline = None
    if readline is None or not sys.stdin.isatty():
        yield
        return
    completer = readline.get_completer()
    delims = readline.get_completer_delims()
    n_history = readline.get_current_history_length()

    def complete(text, state):
        matches = choices.complete(text)
        return matches[state] if state < len(matches) else None

    readline.set_completer(complete)
    readline.set_completer_delims("")  # a label may hold spaces
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")  # macOS
    else:
        readline.parse_and_bind("tab: complete")
    try:
        yield
    finally:
        readline.set_completer(completer)
        readline.set_completer_delims(delims)
        # leave the labels typed out of the history of an interactive Python
        while readline.get_current_history_length() > n_history:
            readline.remove_history_item(readline.get_current_history_length() - 1)


def _indent(text):
    return "\n".join("  " + line for line in str(text).splitlines())
