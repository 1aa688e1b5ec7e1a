"""What offline answering costs: batches and answers against an interactive run.

Breast cancer (min-max scaled, shuffled per seed, ``--n`` rows of which the
first 100 are the bootstrap), 20% noise, LogisticRegression. A team that
knows the true labels answers, in batches: batch 1 is the questions of an
``oracle=None`` run, each later batch those that
:class:`~sklearn_cincer.oracles.OfflineAnswers` could not answer, until none
is left. For each seed it prints the batch sizes, the answers given in all,
the questions of the interactive run with the same team, and whether the
final cleaned labels equal the interactive run's.

Usage::

    python benchmarks/offline_batches.py [--seeds 5] [--n 300]
"""

import argparse

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import minmax_scale

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.oracles import OfflineAnswers


def _answers(questions, y_true):
    """The team's rows for these questions (a Query or a QueryRecord each)."""
    rows = []
    for q in questions:
        record = hasattr(q, "label_before")
        counter = q.counter_example_id
        rows.append(
            {
                "example_id": q.example_id,
                "counter_example_id": counter,
                "label": q.label_before if record else q.label,
                "counter_label": q.counter_label_before if record else q.counter_label,
                "answer": y_true[q.example_id],
                "counter_answer": None if counter is None else y_true[counter],
                "annotator": "team",
            }
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    X_all, y_all = load_breast_cancer(return_X_y=True)
    for seed in range(args.seeds):
        order = np.random.RandomState(seed).permutation(y_all.shape[0])[: args.n]
        X, y = minmax_scale(X_all)[order], y_all[order]
        y_noisy, _ = make_label_noise(y, 0.2, random_state=seed)

        def cleaner(oracle):
            return SkepticalCleaner(
                LogisticRegression(), oracle=oracle, random_state=0
            ).fit(X, y_noisy)

        interactive = cleaner(SimulatedOracle(y))
        rows = _answers(cleaner(None).history_, y)
        sizes = [len(rows)]
        while True:
            oracle = OfflineAnswers(rows)
            final = cleaner(oracle)
            if not oracle.unanswered_:
                break
            rows += _answers(oracle.unanswered_, y)
            sizes.append(len(oracle.unanswered_))
        same = np.array_equal(final.y_cleaned_, interactive.y_cleaned_)
        print(
            f"seed {seed}: {len(sizes)} batches {sizes}, {sum(sizes)} answers; "
            f"interactive run: {interactive.n_queries_} questions; same cleaned "
            f"labels: {same}",
            flush=True,
        )


if __name__ == "__main__":
    main()
