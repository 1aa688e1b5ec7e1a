"""
======================================================
Quick start: cleaning breast-cancer labels with CINCER
======================================================

Inject 20% label noise into scikit-learn's breast-cancer data, then let
:class:`~sklearn_cincer.SkepticalCleaner` learn from the noisy stream while a
simulated annotator answers its questions. We compare CINCER (the annotator
may relabel the suspicious example *and* its counter-example) with skeptical
learning (``counter_examples="none"``: only the suspicious example is shown).
"""

# %%
# The data: a noisy stream
# ------------------------
# :func:`sklearn_cincer.datasets.load_breast_cancer` scales the features to
# ``[0, 1]`` and splits 80:20. :func:`~sklearn_cincer.datasets.make_label_noise`
# flips 20% of the training labels and returns which ones it flipped.
import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.datasets import load_breast_cancer, make_label_noise

data = load_breast_cancer()
# 100 bootstrap examples and 150 streamed ones, to keep the example quick.
X, y_true = data.X_train[:250], data.y_train[:250]
y_noisy, flipped = make_label_noise(y_true, noise_rate=0.2, random_state=0)
print(f"{len(y_true)} training examples, {flipped.sum()} labels flipped")

# %%
# Cleaning while learning
# -----------------------
# ``fit`` trains on the first ``n_bootstrap`` rows, then streams the other rows
# one at a time. The oracle stands for the person who answers; here it knows
# the true labels. Any callable ``oracle(query) -> answer`` would do (see
# :ref:`oracles`).
results, cleaners = {}, {}
for strategy in ["relabel", "none"]:
    cleaner = SkepticalCleaner(
        LogisticRegression(),
        oracle=SimulatedOracle(y_true),
        threshold=0.2,
        counter_examples=strategy,
        n_bootstrap=100,
        random_state=0,
    )
    cleaner.fit(X, y_noisy)
    still_noisy = int((cleaner.y_ != y_true[cleaner.ids_]).sum())
    f1 = f1_score(data.y_test, cleaner.predict(data.X_test))
    results[strategy] = (cleaner.n_queries_, still_noisy, f1)
    cleaners[strategy] = cleaner
    print(
        f"{strategy:>8}: {cleaner.n_queries_} questions, "
        f"{cleaner.n_relabeled_examples_} examples and "
        f"{cleaner.n_relabeled_counter_examples_} counter-examples relabeled, "
        f"{still_noisy} noisy labels left, test F1 {f1:.3f}"
    )

# %%
# What was asked
# --------------
# ``history_`` holds one :class:`~sklearn_cincer.QueryRecord` per question:
# the ids of the example and counter-example, their labels before and after,
# the margin. ``pandas.DataFrame(cincer.history_)`` makes a table of it.
cincer = cleaners["relabel"]
for record in cincer.history_[:5]:
    print(
        f"round {record.round:3d}: example {record.example_id} "
        f"({record.label_before} -> {record.label_after}), counter-example "
        f"{record.counter_example_id} "
        f"({record.counter_label_before} -> {record.counter_label_after}), "
        f"margin {record.margin:.2f}"
    )

# %%
# The cleaned training set is ``cleaner.cleaned_dataset(X)``: its rows of
# ``X`` (a DataFrame stays one) and their cleaned labels;
# ``cleaner.predict`` uses the model fit on it.
X_clean, y_clean = cincer.cleaned_dataset(X)

fig, ax = plt.subplots(figsize=(5, 3))
noisy_before = int(flipped.sum())
names = ["noisy stream", "skeptical learning", "CINCER"]
values = [noisy_before, results["none"][1], results["relabel"][1]]
ax.barh(names, values, color=["grey", "tab:orange", "tab:blue"])
ax.set_xlabel("mislabeled examples in the training set")
for i, v in enumerate(values):
    ax.text(v, i, f" {v}", va="center")
ax.set_xlim(0, max(values) * 1.2)
fig.tight_layout()
plt.show()
