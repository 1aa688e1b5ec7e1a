"""What CleaningSelector costs per question, next to Top Fisher, in one process.

For each pair, the paper's model is fit on a noisy training set of the size
the loop reaches at the end (200 examples, 600 for 20NG), then for the
first questions (misclassified incoming examples) each selector is fit and
asked for its counter-example, as the cleaner does once per question. The
two selectors alternate, so that a busy machine slows both alike; the
medians and their ratio are printed.

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_cleaning_selector.py \\
        --pairs mnist:lr breast:fc fashion_mnist:fc mnist:cnn
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from sklearn_cincer import CleaningSelector, TopFisherSelector
from sklearn_cincer.benchmark import (
    make_model,
    make_stream,
    paper_bootstrap,
    repeat_seed,
)
from sklearn_cincer.datasets import load_dataset


def time_pair(dataset, model_name, questions, data_home=None):
    data = load_dataset(dataset, data_home=data_home, random_state=0)
    n = paper_bootstrap(dataset) + 100
    s = make_stream(
        data.X_train,
        data.y_train,
        n_bootstrap=n,
        n_rounds=200,
        random_state=repeat_seed(0, 0),
    )
    X, y = s.X[:n], s.y_noisy[:n]
    model = make_model(model_name, random_state=0).fit(X, y)
    pred = model.predict(s.X[n:])
    asked = np.flatnonzero(pred != s.y_noisy[n:])[:questions] + n
    times = {"top_fisher": [], "cleaning": []}
    for t in asked:
        candidates = np.flatnonzero(y == pred[t - n])
        for name, selector in (
            ("top_fisher", TopFisherSelector()),
            ("cleaning", CleaningSelector()),
        ):
            start = time.perf_counter()
            selector.fit(model, X, y).select(s.X[t], s.y_noisy[t], candidates)
            times[name].append(time.perf_counter() - start)
    return {k: float(np.median(v)) for k, v in times.items()}, len(asked)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs", nargs="+", default=["mnist:lr", "breast:fc", "fashion_mnist:fc"]
    )
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    print(
        f"{'pair':>18} {'questions':>9} {'Top Fisher s':>12} "
        f"{'cleaning s':>10} {'ratio':>6}"
    )
    for pair in args.pairs:
        dataset, model = pair.split(":")
        med, k = time_pair(dataset, model, args.questions, args.data_home)
        print(
            f"{pair:>18} {k:>9} {med['top_fisher']:>12.4f} "
            f"{med['cleaning']:>10.4f} {med['cleaning'] / med['top_fisher']:>6.2f}",
            flush=True,
        )


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
