"""
==========================================
Choosing the threshold: questions vs noise
==========================================

The margin threshold ``tau`` (``threshold``) is CINCER's one knob: an
incoming example is suspicious when ``P(prediction | x) - P(label | x)``
reaches it. A low threshold asks more questions and cleans more; a high one
asks only when the model is sure. This example runs the same noisy stream at
several thresholds and counts the questions asked and the mislabeled examples
left in the training set.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.datasets import load_breast_cancer, make_label_noise

data = load_breast_cancer()
X, y_true = data.X_train[:200], data.y_train[:200]  # 100 bootstrap, 100 streamed
y_noisy, flipped = make_label_noise(y_true, noise_rate=0.2, random_state=0)

thresholds = [0.0, 0.1, 0.2, 0.4, 0.6, 0.8]
queries, noisy_left, useless = [], [], []
for tau in thresholds:
    cleaner = SkepticalCleaner(
        LogisticRegression(),
        oracle=SimulatedOracle(y_true),
        threshold=tau,
        n_bootstrap=100,
        random_state=0,
    )
    cleaner.fit(X, y_noisy)
    queries.append(cleaner.n_queries_)
    noisy_left.append(int((cleaner.y_ != y_true[cleaner.ids_]).sum()))
    # questions where neither label needed a change
    useless.append(
        sum(
            not (r.relabeled_example or r.relabeled_counter_example)
            for r in cleaner.history_
        )
    )
    print(
        f"tau={tau:.1f}: {queries[-1]:3d} questions ({useless[-1]} changed "
        f"nothing), {flipped.sum()} -> {noisy_left[-1]} noisy labels"
    )

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.plot(thresholds, queries, marker="o", label="questions asked")
ax.plot(thresholds, useless, marker="s", label="questions that changed nothing")
ax.plot(thresholds, noisy_left, marker="^", label="noisy labels left")
ax.axhline(
    flipped.sum(),
    color="grey",
    linestyle="--",
    linewidth=1,
    label="noisy labels before",
)
ax.set_xlabel("threshold tau")
ax.set_ylabel("count (100 streamed examples)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# The paper uses ``tau = 0.2``, the default. Pick the threshold from what a
# question costs: if the annotator is paid or motivated, a low threshold buys
# a cleaner data set; if every question is a burden, raise it. The number of
# questions also falls as the data gets cleaner, since a model trained on
# clean labels disagrees less with correct ones.
