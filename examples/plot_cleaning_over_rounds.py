"""
=========================================================
How cleaning grows over rounds (the paper's Figure 2)
=========================================================

The paper's first question (Q1): do counter-examples help clean the data? We
stream 60 examples (the paper: 100) after a noisy bootstrap set of 100 and
count, after every round, how many labels the annotator has cleaned, for
the three strategies of :class:`~sklearn_cincer.SkepticalCleaner`:

- CINCER (``counter_examples="relabel"``): the suspicious example and its
  counter-example are shown; both may be relabeled.
- Drop CE (``"drop"``): the counter-example is removed when the annotator
  keeps the suspicious example's label.
- No CE (``"none"``, skeptical learning): only the suspicious example.

:func:`sklearn_cincer.benchmark.run_cleaning` streams one example per round
and records the counters and the test F1 after each; every strategy sees the
same streams. Logistic regression on breast cancer keeps it quick; the paper
uses networks (``sklearn-cincer benchmark`` runs those).
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import CleaningSelector
from sklearn_cincer.benchmark import make_stream, run_cleaning
from sklearn_cincer.datasets import load_breast_cancer

data = load_breast_cancer()
strategies = {"CINCER": "cincer", "Drop CE": "drop_ce", "No CE": "no_ce"}
traces = []
for repeat in range(2):  # two streams of 60 rounds, to stay quick
    stream = make_stream(
        data.X_train,
        data.y_train,
        n_bootstrap=100,
        n_rounds=60,
        noise_rate=0.2,
        random_state=repeat,
    )
    for name, strategy in strategies.items():
        trace, cleaner = run_cleaning(
            stream,
            data.X_test,
            data.y_test,
            model=LogisticRegression(),
            selector=CleaningSelector(),
            strategy=strategy,
            random_state=0,
            repeat=repeat,
        )
        traces += [dict(row, strategy=name) for row in trace]
traces = pd.DataFrame(traces)

# %%
# Mean over the two streams, per round. ``n_cleaned`` counts the labels
# corrected so far (suspicious examples and counter-examples); ``n_queried``
# the questions asked.
mean = traces.groupby(["strategy", "round"])[["n_cleaned", "n_queried", "f1"]].mean()
print(mean.xs(60, level="round").round(3))

fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 5.5), sharex=True)
for name in strategies:
    curve = mean.loc[name]
    top.plot(curve.index, curve["n_cleaned"], label=name)
    bottom.plot(curve.index, curve["f1"], label=name)
top.set_ylabel("# cleaned examples")
bottom.set_ylabel("test F1")
bottom.set_xlabel("round (incoming example)")
top.legend()
fig.tight_layout()
plt.show()

# %%
# All strategies ask about the same suspicious examples at first, so they
# ask about as many questions; CINCER cleans more per question because
# the counter-example can be relabeled too, including noise of the bootstrap
# set that no incoming example would ever reveal.
