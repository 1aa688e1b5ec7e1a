"""Time one CINCER round without the model refit (issue 2, item 9).

A training set of 10,000 examples, 64 features and 10 classes under a fitted
multinomial logistic regression. Two medians, measured in one run:

* ``fisher``: build and factorize the exact top-layer Fisher
  (``TopFisherSelector.fit``: features, probabilities, F over all 10,000
  examples, damping, Cholesky);
* ``query``: everything else a round with a question does: the margin of the
  incoming example, the candidate set, the solve ``F^-1 g_t``, scoring every
  candidate with one product, the query, the oracle's answer and the
  bookkeeping (``SkepticalCleaner._round`` with the refit and the Fisher
  build taken out; the Fisher is built once, before timing).

Run: ``python benchmarks/bench_round.py [--repeats 30]``.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import SimulatedOracle, SkepticalCleaner, TopFisherSelector


class _PrefitSelectorCleaner(SkepticalCleaner):
    """The cleaner with the Fisher built once, to time the query path alone."""

    prefit = None

    def _fit_selector(self, stream, train_ids):
        return self.prefit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--c", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)

    X, y = make_classification(
        n_samples=args.n + args.repeats, n_features=args.d, n_informative=args.d // 2,
        n_classes=args.c, n_clusters_per_class=1, random_state=0,
    )
    model = LogisticRegression(max_iter=200).fit(X[: args.n], y[: args.n])

    fisher = []
    for _ in range(max(5, args.repeats // 3)):
        start = time.perf_counter()
        selector = TopFisherSelector().fit(model, X[: args.n], y[: args.n])
        fisher.append(time.perf_counter() - start)

    # Incoming examples whose label contradicts a confident prediction, so
    # every timed round asks a question.
    incoming = X[args.n :]
    pred = model.predict(incoming)
    y_in = (pred + 1) % args.c
    cleaner = _PrefitSelectorCleaner(
        model, oracle=SimulatedOracle(np.r_[y, y]), threshold=0.0,
        n_bootstrap=args.n,
    )
    cleaner.fit(X[: args.n], y[: args.n])  # all bootstrap: one fit
    stream = cleaner._stream
    stream.estimator = model
    cleaner.prefit = selector
    cleaner._update = lambda stream, entered: None  # no refit
    query = []
    for i in range(args.repeats):
        stream.extend(incoming[i : i + 1], np.array([y_in[i]]))
        n_queries = len(stream.history)
        start = time.perf_counter()
        cleaner._round(stream, stream.X.shape[0] - 1)
        query.append(time.perf_counter() - start)
        assert len(stream.history) == n_queries + 1  # a question was asked
        # Keep the training set that the prebuilt Fisher describes.
        stream.in_train[-1] = False
        stream.labels[: args.n] = y[: args.n]

    print(f"training set: n={args.n}, d={args.d}, c={args.c}; {args.repeats} rounds")
    print(f"fisher build + factorize: median {1000 * np.median(fisher):8.2f} ms "
          f"(min {1000 * np.min(fisher):.2f}, {len(fisher)} runs)")
    print(f"query (no refit, no build): median {1000 * np.median(query):6.2f} ms "
          f"(min {1000 * np.min(query):.2f}, {len(query)} runs)")


if __name__ == "__main__":
    main()
