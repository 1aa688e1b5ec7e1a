"""
============================================================
The paper's Figure 1: counter-examples on handwritten digits
============================================================

A model trained on noisy labels doubts an example: which training example
supports the doubt? This draws, for suspicious examples, the counter-example
picked by the cleaning selector (the library's default), by Top Fisher
(Eq. 14, the paper's choice), by the nearest neighbor (1-NN) and by influence
functions (IF), as in Figure 1 of Teso et al. (2021).

It uses real MNIST when its files are in the data folder
(``$SKLEARN_CINCER_DATA``, see :func:`sklearn_cincer.datasets.get_data_home`),
pooled to 14x14 pixels so that the example stays quick, and scikit-learn's
8x8 digits otherwise. The model is a logistic regression, for which
:class:`~sklearn_cincer.TopFisherSelector` is the exact Fisher and
:class:`~sklearn_cincer.InfluenceSelector` the exact influence function.
"""

# %%
# Data with 20% label noise
# -------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import (
    CleaningSelector,
    InfluenceSelector,
    NearestNeighborSelector,
    TopFisherSelector,
)
from sklearn_cincer.benchmark import pick_counter_examples
from sklearn_cincer.datasets import load_digits, load_mnist, make_label_noise

rng = np.random.RandomState(0)
try:
    mnist = load_mnist()
    rows = rng.choice(len(mnist.y_train), 1500, replace=False)
    images = mnist.images_train[rows]
    # 2x2 average pooling: 28x28 -> 14x14
    images = images.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))
    y_true = mnist.y_train[rows]
    source = "MNIST (1,500 training images, pooled to 14x14)"
except (FileNotFoundError, OSError):
    digits = load_digits()
    images, y_true = digits.images_train, digits.y_train
    source = "scikit-learn's 8x8 digits"
X = images.reshape(len(images), -1)
y_noisy, flipped = make_label_noise(y_true, noise_rate=0.2, random_state=0)
print(f"{source}: {len(X)} examples, {flipped.sum()} labels flipped")

# %%
# The training set and the incoming examples
# ------------------------------------------
# The model is fit on the first 1,000 noisy examples; the others arrive one
# at a time. The margin ``P(prediction | x) - P(label | x)`` makes an incoming
# example suspicious when it reaches 0.2 (the cleaner's default threshold).
n_train = 1000
model = LogisticRegression(C=0.1, max_iter=1000).fit(X[:n_train], y_noisy[:n_train])
proba = model.predict_proba(X[n_train:])
prediction = proba.argmax(axis=1)
labels = y_noisy[n_train:]
idx = np.arange(len(labels))
margin = proba[idx, prediction] - proba[idx, labels]
suspicious = np.flatnonzero((margin >= 0.2) & (prediction != labels)) + n_train
print(f"{len(suspicious)} of {len(labels)} incoming examples are suspicious")

# %%
# Pick the counter-examples
# -------------------------
# Among the training examples labeled as the model's prediction (the paper's
# pertinence rule), Top Fisher and IF pick the one whose removal would most
# raise the probability of the suspicious label; the cleaning selector picks,
# among those whose removal would raise it at all, the one whose own label
# is least likely once it is left out: the one most likely mislabeled.
selectors = {
    "Cleaning": CleaningSelector(),
    "Top Fisher": TopFisherSelector(),
    "1-NN": NearestNeighborSelector(),
    "IF": InfluenceSelector(),
}
# One suspicious example that is mislabeled, one that is not (as in Figure 1).
noisy_one = next(t for t in suspicious if flipped[t])
clean_one = next((t for t in suspicious if not flipped[t]), suspicious[-1])

fig, axes = plt.subplots(2, 5, figsize=(9.0, 4.8))
for row, t in zip(axes, [noisy_one, clean_one]):
    picks = pick_counter_examples(
        model, X[:n_train], y_noisy[:n_train], X[t], y_noisy[t], selectors
    )
    shown = [("suspicious", t)] + [(name, k) for name, k in picks.items()]
    for ax, (name, k) in zip(row, shown):
        ax.imshow(images[k], cmap="gray_r")
        truth = "" if y_noisy[k] == y_true[k] else f" (true {y_true[k]})"
        ax.set_title(f"{name}\nlabel {y_noisy[k]}{truth}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    print(
        f"example {t}: label {y_noisy[t]}, true {y_true[t]}, predicted "
        f"{model.predict(X[t : t + 1])[0]}; picks "
        + ", ".join(
            f"{n}: {k} (label {y_noisy[k]}, true {y_true[k]})" for n, k in picks.items()
        )
    )
fig.suptitle("Suspicious example and counter-examples", fontsize=10)
fig.tight_layout()
plt.show()

# %%
# Read each row from the left: the suspicious example with its (possibly
# wrong) label, then the counter-example each selector shows next to it. A
# label in parentheses is the true one, where the given label is wrong. The
# 1-NN counter-example looks alike but need not be influential; Top Fisher
# and IF rank by influence, and on logistic regression they are both exact,
# so they often agree. On networks they part ways. The cleaning selector
# shows a counter-example that supports the doubt too, but is chosen for
# being likely mislabeled itself, so that the second look at it pays off
# (see :ref:`selectors`).
