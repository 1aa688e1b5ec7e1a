"""
=====================================================
SkepticalCleaner in a Pipeline, with cross-validation
=====================================================

:class:`~sklearn_cincer.SkepticalCleaner` is a scikit-learn classifier: it
can end a :class:`~sklearn.pipeline.Pipeline` and be cross-validated. Two
things to know:

- ``fit`` streams the rows in the order given, after the first
  ``n_bootstrap``. Cross-validation hands it the training rows of each fold;
  shuffle the data first if it is sorted.
- An oracle sees each example by its *stream id*: its position among the rows
  given to ``fit``, which in cross-validation is the position within the
  fold, not in the whole data set. :class:`~sklearn_cincer.SimulatedOracle`
  indexes ``y_true`` by stream id, so it cannot be used here as is. Below is
  a small oracle that recognizes the examples by their features instead.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_cincer import SkepticalCleaner
from sklearn_cincer.datasets import load_breast_cancer, make_label_noise
from sklearn_cincer.oracles import Answer

data = load_breast_cancer()
X, y_true = data.X_train[:240], data.y_train[:240]  # quick: 60 streamed per fold
y_noisy, flipped = make_label_noise(y_true, noise_rate=0.2, random_state=0)


class LookupOracle:
    """Answer the true label of an example recognized by its features."""

    def __init__(self, X, y_true):
        self.labels = {row.tobytes(): label for row, label in zip(X, y_true)}

    def __call__(self, query):
        label = self.labels[query.x.tobytes()]
        counter_label = None
        if query.has_counter_example:
            counter_label = int(self.labels[query.counter_x.tobytes()])
        return Answer(label=int(label), counter_label=counter_label, annotator="lookup")


# %%
# The oracle sees the rows as the cleaner receives them. So put the scaling
# *inside* the cleaner (a Pipeline ending in logistic regression is a model
# the selectors can read), and the oracle sees the raw rows. Scoring is on
# the noisy labels of the held-out fold: cross-validation has nothing else.
cleaner = SkepticalCleaner(
    make_pipeline(StandardScaler(), LogisticRegression()),
    oracle=LookupOracle(X, y_true),
    n_bootstrap=100,
    random_state=0,
)
cleaned = cross_val_score(cleaner, X, y_noisy, cv=3)
plain = cross_val_score(
    make_pipeline(StandardScaler(), LogisticRegression()), X, y_noisy, cv=3
)
print("accuracy on the noisy held-out labels")
print(f"  with cleaning:    {cleaned.round(3)}")
print(f"  without cleaning: {plain.round(3)}")

# %%
# The cleaner as the last step of a Pipeline. Without an oracle
# (``oracle=None``) the cleaner asks nobody: it records every suspicious
# example and its counter-example in ``history_`` and keeps the labels, so it
# finds what a person should look at, for instance in a pre-screening run.
pipe = make_pipeline(
    StandardScaler(),
    SkepticalCleaner(LogisticRegression(), oracle=None, random_state=0),
)
pipe.fit(X, y_noisy)
history = pipe[-1].history_
flagged = np.array([r.example_id for r in history])
print(
    f"{len(history)} suspicious examples recorded; "
    f"{flipped[flagged].sum()} of them are mislabeled"
)

# %%
# Its threshold and selector are hyper-parameters like any other, for
# :class:`~sklearn.model_selection.GridSearchCV` (``skepticalcleaner__threshold``).
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.boxplot([plain, cleaned])
ax.set_xticks([1, 2], ["logistic regression", "SkepticalCleaner"])
ax.set_ylabel("3-fold CV accuracy\n(noisy labels)")
fig.tight_layout()
plt.show()
