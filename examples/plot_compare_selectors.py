"""
===========================================
Comparing counter-example selectors by Pr@k
===========================================

Which selector finds the mislabeled training examples? The paper's second
question (Q2, its Figure 3): fit a model on a noisy bootstrap set, stream
examples with clean labels, and for every incoming example the model
misclassifies, rank the candidate counter-examples (training examples labeled
as the prediction) with each selector. Pr@k is the fraction of mislabeled
examples among the ``k`` ranked first.

:func:`sklearn_cincer.benchmark.run_precision` runs that protocol on one
stream; :func:`~sklearn_cincer.benchmark.make_stream` draws the stream (a
noisy bootstrap set and the incoming examples) from a data set.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import (
    CleaningSelector,
    FullFisherSelector,
    InfluenceSelector,
    NearestNeighborSelector,
    PracticalFisherSelector,
    RandomSelector,
    TopFisherSelector,
)
from sklearn_cincer.benchmark import make_stream, run_precision
from sklearn_cincer.datasets import load_breast_cancer

data = load_breast_cancer()
selectors = {
    "Cleaning": CleaningSelector(),
    "Top Fisher": TopFisherSelector(),
    "Full Fisher": FullFisherSelector(),
    "Practical Fisher": PracticalFisherSelector(),
    "Influence": InfluenceSelector(),
    "1-NN": NearestNeighborSelector(),
    "Random": RandomSelector(random_state=0),
}

# %%
# Three streams, each with its own noise: 100 noisy bootstrap examples and 100
# incoming ones.
rows = []
for repeat in range(3):
    stream = make_stream(
        data.X_train,
        data.y_train,
        n_bootstrap=100,
        n_rounds=100,
        noise_rate=0.2,
        random_state=repeat,
    )
    rows += run_precision(
        stream,
        model=LogisticRegression(),
        selectors=selectors,
        ks=(5, 10),
        repeat=repeat,
    )
results = pd.DataFrame(rows)
table = results.groupby("selector")[["pr_at_5", "pr_at_10", "ce_noisy"]].mean()
table = table.loc[list(selectors)]
print(f"{results.groupby('repeat')['round'].nunique().sum()} queries")
print(table.round(3))

# %%
# On logistic regression the last layer is the whole model, so Top Fisher and
# Full Fisher are the same matrix and rank alike; Influence uses the exact
# Hessian of the regularized loss. Practical Fisher (the identity instead of
# the Fisher) and 1-NN ignore the curvature; Random is the floor. The
# cleaning selector (the default) ranks the candidates that support the doubt
# by how likely their own label is wrong, out of sample: it is built to show a
# mislabeled counter-example (``ce_noisy``, the fraction of questions whose
# first candidate is mislabeled), not the most influential one. Three short
# streams give a couple of dozen queries, so these numbers are noisy and need
# not follow the paper's ranking (which is for networks): run
# ``sklearn-cincer benchmark --q2`` for the paper's protocol at scale (see
# :ref:`reproducing`).
ax = table[["pr_at_5", "pr_at_10"]].plot.barh(figsize=(6, 3.5))
ax.invert_yaxis()
ax.set_xlabel("fraction of mislabeled counter-examples among the top k")
ax.legend(["Pr@5", "Pr@10"], loc="lower right")
plt.tight_layout()
plt.show()
