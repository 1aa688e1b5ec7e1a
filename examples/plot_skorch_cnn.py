"""
=====================================
Streaming with a skorch CNN
=====================================

:class:`~sklearn_cincer.SkepticalCleaner` wraps skorch networks as it wraps
scikit-learn classifiers. :class:`sklearn_cincer.nets.ConvNetClassifier` is
the paper's CNN (two convolutional layers, two fully connected ones, ReLU,
20% dropout) with the paper's training rule (Adam, batches of 32, stop when
the training accuracy reaches 90%). Top Fisher reads the input of the
network's last linear layer with a forward hook, so the Fisher is over that
layer only, whatever the size of the network.

Needs ``pip install "sklearn-cincer[torch]"``. To stay quick this uses
scikit-learn's 8x8 digits, a short stream and ``refit="incremental"`` (the
network goes on training from its current weights each round instead of
restarting from scratch as the paper does).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.metrics import f1_score

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.datasets import load_digits, make_label_noise
from sklearn_cincer.nets import ConvNetClassifier

torch.set_num_threads(1)  # a small network on 8x8 images: one thread is enough
data = load_digits()
X, y_true = data.X_train[:180].astype(np.float32), data.y_train[:180]
y_noisy, flipped = make_label_noise(y_true, noise_rate=0.2, random_state=0)

cleaner = SkepticalCleaner(
    ConvNetClassifier(max_epochs=20, random_state=0),
    oracle=SimulatedOracle(y_true),
    n_bootstrap=120,  # then 60 streamed examples
    refit="incremental",
    random_state=0,
)
cleaner.fit(X, y_noisy)

f1 = f1_score(
    data.y_test, cleaner.predict(data.X_test.astype(np.float32)), average="weighted"
)
still_noisy = int((cleaner.y_ != y_true[cleaner.ids_]).sum())
print(
    f"{cleaner.n_queries_} questions; relabeled {cleaner.n_relabeled_examples_} "
    f"examples and {cleaner.n_relabeled_counter_examples_} counter-examples; "
    f"{flipped.sum()} -> {still_noisy} noisy labels; test F1 {f1:.3f}; "
    f"refit by {cleaner.refit_method_!r}"
)

# %%
# The questions with a counter-example that the annotator relabeled: the
# incoming example (left) and the counter-example from the training set
# (right), each with its label before and after.
records = [r for r in cleaner.history_ if r.relabeled_counter_example][:4]
if records:
    fig, axes = plt.subplots(
        len(records), 2, figsize=(3.5, 1.8 * len(records)), squeeze=False
    )
    for (left, right), r in zip(axes, records):
        for ax, i, before, after in [
            (left, r.example_id, r.label_before, r.label_after),
            (
                right,
                r.counter_example_id,
                r.counter_label_before,
                r.counter_label_after,
            ),
        ]:
            ax.imshow(X[i].reshape(8, 8), cmap="gray_r")
            ax.set_title(f"id {i}: {before} -> {after}", fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    plt.show()
