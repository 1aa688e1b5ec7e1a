"""
==================================
A simulated imperfect annotator
==================================

People make mistakes too. :class:`~sklearn_cincer.SimulatedOracle` answers
the true label except, with probability ``error_rate``, another class drawn
at random, for each label it is asked. How much cleaning survives an
annotator who errs 0%, 10%, 20% or 30% of the time?
"""

# %%
import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.datasets import load_breast_cancer, make_label_noise

data = load_breast_cancer()
X, y_true = data.X_train[:200], data.y_train[:200]  # 100 bootstrap, 100 streamed
y_noisy, flipped = make_label_noise(y_true, noise_rate=0.2, random_state=0)

error_rates = [0.0, 0.1, 0.2, 0.3]
noisy_left = []
for error_rate in error_rates:
    oracle = SimulatedOracle(y_true, error_rate=error_rate, random_state=0)
    cleaner = SkepticalCleaner(LogisticRegression(), oracle=oracle, random_state=0)
    cleaner.fit(X, y_noisy)
    left = int((cleaner.y_ != y_true[cleaner.ids_]).sum())
    noisy_left.append(left)
    print(
        f"error rate {error_rate:.1f}: {cleaner.n_queries_} questions, "
        f"{flipped.sum()} -> {left} noisy labels, test accuracy "
        f"{cleaner.score(data.X_test, data.y_test):.3f}"
    )

# %%
# A wrong answer can also *introduce* noise: the annotator may relabel a
# correct example or counter-example. With ``random_state`` an int, the
# simulated annotator answers a repeated question the same way.
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(error_rates, noisy_left, marker="o", label="after cleaning")
ax.axhline(flipped.sum(), color="grey", linestyle="--", label="before cleaning")
ax.set_xlabel("annotator error rate")
ax.set_ylabel("mislabeled training examples")
ax.legend()
fig.tight_layout()
plt.show()
