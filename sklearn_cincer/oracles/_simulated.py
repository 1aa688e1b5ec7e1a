"""An annotator simulated from ground-truth labels."""

import numpy as np
from sklearn.utils import check_random_state

from ._base import Answer, plain


class SimulatedOracle:
    """Answers queries from the true labels, by stream id.

    It plays the annotator in experiments: for each example it is asked about
    it answers the true label ``y_true[example_id]``, except that with
    probability ``error_rate`` it errs and answers another class, drawn
    uniformly. It labels the suspicious example and each counter-example
    independently (``Answer.counter_labels`` holds one label per
    counter-example when the query shows several).

    Parameters
    ----------
    y_true : array-like of shape (n_stream,)
        The true label of every example of the stream, indexed by stream id
        (the row of ``fit``, then those of each ``partial_fit``): to stream
        more with ``partial_fit``, give the true labels of ``fit``'s rows
        followed by those of the later rows.
    error_rate : float, default=0.0
        Probability of a wrong answer for each label asked, in ``[0, 1]``.
    random_state : int, RandomState instance or None, default=None
        Seeds the errors. With an int, whether the oracle errs on an example
        (and how) depends only on the seed and the example's id, so a
        repeated run, or a question asked twice, gets the same answer.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer import SimulatedOracle
    >>> from sklearn_cincer.oracles import Query
    >>> oracle = SimulatedOracle(y_true=[0, 1, 1])
    >>> query = Query(example_id=2, x=np.zeros(2), label=0, prediction=1,
    ...               margin=0.6, classes=np.array([0, 1]),
    ...               counter_example_id=0, counter_x=np.zeros(2), counter_label=1)
    >>> oracle(query)
    Answer(label=1, counter_label=0, annotator='simulated')
    """

    def __init__(self, y_true, error_rate=0.0, random_state=None):
        self.y_true = y_true
        self.error_rate = error_rate
        self.random_state = random_state

    def _true_label(self, example_id):
        y_true = np.asarray(self.y_true)
        if not 0 <= example_id < y_true.shape[0]:
            raise IndexError(
                f"SimulatedOracle knows the labels of stream ids 0 to "
                f"{y_true.shape[0] - 1}, but was asked about id {example_id}: "
                "the rows of partial_fit follow those of fit, so give it the "
                "true labels of both (np.concatenate([y_true_fit, "
                "y_true_partial_fit]))."
            )
        return y_true[example_id]

    def _answer(self, example_id, classes, role):
        label = self._true_label(example_id)
        if self.error_rate == 0:
            return label
        if isinstance(self.random_state, (int, np.integer)):
            # Per-example stream: the same question always gets the same answer.
            rng = np.random.RandomState([int(self.random_state), example_id, role])
        else:
            if not hasattr(self, "_rng"):
                self._rng = check_random_state(self.random_state)
            rng = self._rng
        if rng.uniform() >= self.error_rate:
            return label
        others = [c for c in classes if c != label]
        return others[rng.randint(len(others))] if others else label

    def __call__(self, query):
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be in [0, 1], got {self.error_rate}.")
        label = self._answer(query.example_id, query.classes, 0)
        # every counter-example by its own id, so that its answer does not
        # depend on its place among those shown
        shown = tuple(
            plain(self._answer(ce.example_id, query.classes, 1))
            for ce in query.counter_examples
        )
        return Answer(
            label=plain(label),
            counter_label=shown[0] if shown else None,
            counter_labels=shown if len(shown) > 1 else None,
            annotator="simulated",
        )

    def __repr__(self):
        return (
            f"SimulatedOracle(error_rate={self.error_rate}, "
            f"random_state={self.random_state!r})"
        )
