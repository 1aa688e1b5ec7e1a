"""What the oracles that ask a person share: rendering, class names, skip, undo."""

import getpass
import threading

from ._base import Answer
from ._labels import Choices, check_class_names
from ._render import Renderer, plain


class _HumanOracle:
    """Base of :class:`BrowserOracle` and :class:`TerminalOracle`.

    Skip
        The person may skip a question. The cleaner only knows answers, so a
        skip is the answer that keeps every current label
        (``Answer(label=query.label, counter_label=query.counter_label,
        skipped=True)``, with ``counter_labels`` when several counter-examples
        are shown): the cleaner goes on as if the person had confirmed them,
        and the record says they were skipped. A skip never drops a
        counter-example.

    Undo
        The person may revise the last answer they gave. The cleaner has
        already applied it and moved on; the revision is handed to every
        revision listener: an :class:`AnnotationSession` writes it to its
        store at once, in place of the earlier answer, and the running
        cleaner (which listens during ``fit`` and ``partial_fit``, directly
        or through the session) applies it before its next round, refitting
        the model. A revision made after the fit ended is applied when the
        session is run again from its store; the oracle says which. The
        oracle keeps every revision in ``revisions_``.

    Saved
        An answer is confirmed to the person ("Saved.") only after every
        answer listener (an :class:`AnnotationSession` writing its store)
        took it; a listener that raises means "not saved", and the question
        stays open. Without a listener nothing is saved to a file, and the
        oracles do not say "Saved.".
    """

    def __init__(
        self,
        *,
        display,
        render,
        texts,
        image_shape,
        feature_names,
        n_highlight,
        max_features,
        annotator,
        class_names,
        example_name=None,
    ):
        self._class_names = check_class_names(class_names)
        self.class_names = class_names
        self.display = display
        self.render = render
        self.texts = texts
        self.image_shape = image_shape
        self.feature_names = feature_names
        self.n_highlight = n_highlight
        self.max_features = max_features
        self.annotator = annotator
        self.example_name = example_name
        self._renderer = Renderer(
            display=display,
            render=render,
            texts=texts,
            image_shape=image_shape,
            feature_names=feature_names,
            n_highlight=n_highlight,
            max_features=max_features,
            example_name=example_name,
        )
        self._naming = self._renderer.naming
        self._listeners = []
        self._answer_listeners = []
        self._listeners_lock = threading.Lock()
        self.revisions_ = []
        self.answers_ = []

    # ----------------------------------------------------------- revisions

    def add_revision_listener(self, listener):
        """Call ``listener(query, answer)`` for each revised answer (undo).

        Adding the same listener twice has no effect.

        Parameters
        ----------
        listener : callable
        """
        with self._listeners_lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def remove_revision_listener(self, listener):
        """Stop calling ``listener``; one not added is ignored.

        Parameters
        ----------
        listener : callable
        """
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _revised(self, query, answer):
        """Hand a revision to the listeners; kept once they all took it.

        Call it without holding a lock the page needs: a listener writes to
        a store, which may wait for the disk or another program. Raises what
        a listener raised (the revision is then not kept). Returns whether a
        running cleaner applies it (a listener returned True).
        """
        with self._listeners_lock:
            listeners = list(self._listeners)
        live = [bool(listener(query, answer)) for listener in listeners]
        self.revisions_.append((query, answer))
        return any(live)

    def _revision_text(self, live):
        """What the person reads once a revision is taken."""
        saved = (
            "Revision saved."
            if self.durable
            else (
                "Revision noted (not saved to a file: no AnnotationSession records it)."
            )
        )
        if live:
            return f"{saved} The cleaner applies it before it goes on."
        # after the fit ended, or an asker that does not apply revisions (the
        # auditor)
        if self.durable:
            return (
                f"{saved} No running fit applies it now: it applies when "
                "the session is run again from its store."
            )
        return f"{saved} No running fit applies it now: fit again to use it."

    def add_answer_listener(self, listener):
        """Call ``listener(query, answer)`` for each answer, before confirming it.

        The oracle tells the person an answer is saved only once every answer
        listener returned; a listener that raises means "not saved": the
        person is told so and the question stays open. An
        :class:`AnnotationSession` registers one that writes the answer to
        its store. Adding the same listener twice has no effect.

        Parameters
        ----------
        listener : callable
        """
        with self._listeners_lock:
            if listener not in self._answer_listeners:
                self._answer_listeners.append(listener)

    @property
    def durable(self):
        """Whether an answer listener writes each answer before it is confirmed."""
        return bool(self._answer_listeners)

    def _commit(self, query, answer):
        """Hand an answer to the answer listeners; raises what one raised."""
        with self._listeners_lock:
            listeners = list(self._answer_listeners)
        for listener in listeners:
            listener(query, answer)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_listeners"] = []
        state["_answer_listeners"] = []
        state.pop("_listeners_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._listeners_lock = threading.Lock()

    # ------------------------------------------------------------- answers

    def _choices(self, query):
        """The query's classes as the person sees and picks them."""
        return Choices(query.classes, self._class_names)

    def _tally(self):
        """``(answered, skipped)``: the questions answered so far, a skip not
        counting as an answer; a revision replaces the answer it revises."""
        latest = {id(query): answer for query, answer in self.answers_}
        latest.update({id(query): answer for query, answer in self.revisions_})
        skipped = sum(answer.skipped for answer in latest.values())
        return len(latest) - skipped, skipped

    def _make_answer(self, query, label, counter_labels=(), skipped=False):
        """The answer, from the label of the example and those of each
        counter-example (``counter_labels``, in order; missing ones keep)."""
        shown = query.counter_examples
        labels = [
            plain(ce.label)
            if skipped or k >= len(counter_labels)
            else plain(counter_labels[k])
            for k, ce in enumerate(shown)
        ]
        if skipped:
            label = query.label
        return Answer(
            label=plain(label),
            counter_label=labels[0] if labels else None,
            counter_labels=tuple(labels) if len(labels) > 1 else None,
            annotator=self._who(),
            skipped=skipped,
        )

    def _who(self):
        """The annotator's name: as given, else the login name."""
        if self.annotator is not None:
            return self.annotator
        try:
            return getpass.getuser()
        except Exception:  # no login name to be found
            return None

    @staticmethod
    def _asks_counter_label(query):
        """Whether the person chooses the counter-example's label."""
        return query.has_counter_example and query.strategy == "relabel"
