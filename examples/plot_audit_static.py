"""
=======================================================
Audit a noisy static dataset, and compare with cleanlab
=======================================================

Most datasets do not stream: they are a table of examples with some wrong
labels. :class:`~sklearn_cincer.LabelAuditor` ranks every label by how much a
model that never saw it (cross-validation) doubts it, asks a person about the
most suspicious ones, and refits the ranking as the answers come. Each
question shows the training example that most supports the doubt (the
counter-example), and offers its label for relabeling too when it is itself
suspicious.

Here a simulated person answers from the true labels of scikit-learn's
digits, 20% of which were flipped to the next digit (pair-flip noise). We
compare with a static ranking of the same cross-validated probabilities:
cleanlab's when it is installed (``pip install cleanlab``), else the first
ranking of :func:`~sklearn_cincer.find_label_issues`.
"""

# %%
# A noisy dataset
# ---------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import (
    CounterExampleDisplay,
    LabelAuditor,
    LabelIssuesDisplay,
    SimulatedOracle,
    find_label_issues,
)
from sklearn_cincer.datasets import make_label_noise

X, y_true = load_digits(return_X_y=True)
X, y_true = X[:600] / 16.0, y_true[:600]
y_noisy, flipped = make_label_noise(
    y_true, noise_rate=0.2, kind="pairwise", random_state=0
)
print(f"{len(y_noisy)} digits, {flipped.sum()} labels flipped to the next digit")

# %%
# Rank the labels without asking anything
# ---------------------------------------
# :func:`~sklearn_cincer.find_label_issues` gives cleanlab's table
# (``is_label_issue``, ``label_quality``, ``given_label``,
# ``predicted_label``) with each suspicious label's counter-example.
model = LogisticRegression(max_iter=1000)
issues = find_label_issues(model, X, y_noisy, random_state=0)
columns = ["label_quality", "given_label", "predicted_label", "counter_example"]
print(issues.sort_values("label_quality")[columns].head())
top = issues.sort_values("label_quality").index[:60]
print(f"the 60 most suspicious labels hold {flipped[top].sum()} flipped ones")

# %%
# Audit: a person answers 120 labels (20% of the rows)
# ----------------------------------------------------
auditor = LabelAuditor(
    model, oracle=SimulatedOracle(y_true), budget=0.2, refit_every=20, random_state=0
)
auditor.fit(X, y_noisy)
fixed = int((flipped & (auditor.y_ == y_true)).sum())
offers = sum(r.counter_offered for r in auditor.history_)
print(
    f"{auditor.n_queries_} questions, {auditor.n_inspected_} labels inspected "
    f"({offers} counter-examples offered for relabeling): {fixed} of "
    f"{flipped.sum()} flipped labels set right"
)

# %%
# Against a static ranking, at equal labels inspected
# ---------------------------------------------------
# cleanlab ranks the same cross-validated probabilities once, and a person
# checks its top 120 labels. Refitting the ranking as the answers come finds
# errors that the first, noisy model hid.
from sklearn.model_selection import cross_val_predict  # noqa: E402

try:
    from cleanlab.rank import get_label_quality_scores

    proba = cross_val_predict(model, X, y_noisy, cv=5, method="predict_proba")
    static = issues.assign(label_quality=get_label_quality_scores(y_noisy, proba))
    static_name = "cleanlab (static)"
except ImportError:
    static, static_name = issues, "first ranking (static)"

fig, ax = plt.subplots(figsize=(6, 4))
ours = LabelIssuesDisplay.from_auditor(auditor, y_true=y_true, ax=ax, color="C0")
theirs = LabelIssuesDisplay.from_label_issues(
    static, y_true, budget=120, ax=ax, name=static_name, color="C1"
)
ax.set_title("Digits, 20% pair-flip noise")
print(
    f"noise removed at 120 labels: auditor {ours.noise_removed[-1]:.0%}, "
    f"{static_name} {theirs.noise_removed[-1]:.0%}"
)

# %%
# Look at the pairs
# -----------------
# Each question came with its counter-example: the training example of the
# fold's model, labeled as that model predicts, that most supports the doubt
# (as in the paper's Figure 1).
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
for ax, record in zip(axes, auditor.history_[:3]):
    CounterExampleDisplay.from_auditor(
        auditor, X, example_id=record.example_id, image_shape=(8, 8), ax=ax
    )
    ax.set_title(
        f"true labels: {y_true[record.example_id]} and "
        f"{y_true[record.counter_example_id]}",
        fontsize="small",
    )
fig.tight_layout()
plt.show()
