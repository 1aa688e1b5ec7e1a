"""Bad inputs to a fitted cleaner with a store: each must fail and change nothing.

For each estimator and strategy, a cleaner is fitted with an
``AnnotationSession`` on a store. Then each bad call (bad data to
``partial_fit`` or ``fit``, bad settings, an oracle that raises or answers
nonsense, a store in use by another process) is made. It *holds* when it
raises, the cleaner's fitted state is byte-identical (pickled) to before,
and the store holds exactly the rows it held before.

Usage::

    python benchmarks/bad_inputs.py
"""

import argparse
import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np


def _data():
    from sklearn.datasets import make_classification

    from sklearn_cincer.datasets import make_label_noise

    X, y = make_classification(n_samples=160, n_features=5, random_state=0)
    y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=0)
    return X, y, y_noisy


def _estimators():
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    return {
        "LogisticRegression": LogisticRegression(),
        "SGDClassifier": SGDClassifier(loss="log_loss", random_state=0),
    }


def _bad_oracles(Answer):
    def raises(query):
        raise ConnectionError("annotator offline")

    return {
        "oracle raises": raises,
        "oracle returns None": lambda q: None,
        "oracle returns a dict": lambda q: {"label": q.label},
        "label outside classes": lambda q: Answer(label=7),
        "label None": lambda q: Answer(label=None),
        "label a list": lambda q: Answer(label=[0, 1]),
        "label an array of one": lambda q: Answer(label=np.array([1])),
        "label [[1]]": lambda q: Answer(label=[[1]]),
        "label a string": lambda q: Answer(label="1"),
        "counter label outside classes": lambda q: Answer(
            label=q.label, counter_label=5
        ),
    }


def _bad_data(X, y):
    n = X.shape[1]
    Xn = X[:10].copy()
    Xn[3, 1] = np.nan
    Xi = X[:10].copy()
    Xi[2, 0] = np.inf
    return {
        "NaN in X": (Xn, y[:10]),
        "inf in X": (Xi, y[:10]),
        "one feature too many": (np.c_[X[:10], X[:10, :1]], y[:10]),
        "one feature too few": (X[:10, : n - 1], y[:10]),
        "1-D X": (X[:10, 0], y[:10]),
        "3-D X": (X[:10, :, None], y[:10]),
        "empty X": (X[:0], y[:0]),
        "y one short": (X[:10], y[:9]),
        "unknown label": (X[:10], np.r_[y[:9], 5]),
        "string labels": (X[:10], y[:10].astype(str)),
        "y None": (X[:10], None),
        "X as text": (np.array([["a"] * n] * 10), y[:10]),
        "complex X": (X[:10] + 1j, y[:10]),
        "2-D y": (X[:10], np.c_[y[:10], y[:10]]),
    }


BAD_PARAMS = {
    "threshold 2": {"threshold": 2.0},
    "threshold -0.1": {"threshold": -0.1},
    "counter_examples 'maybe'": {"counter_examples": "maybe"},
    "n_bootstrap 0": {"n_bootstrap": 0},
    "n_bootstrap 1.5": {"n_bootstrap": 1.5},
    "refit 'sometimes'": {"refit": "sometimes"},
    "selector an int": {"selector": 3},
    "candidates 'few'": {"candidates": "few"},
    "random_state 'x'": {"random_state": "x"},
}


def _state(cleaner):
    """The fitted state, pickled (the oracle left out: it is a parameter)."""
    state = {k: v for k, v in vars(cleaner).items() if k != "oracle"}
    return pickle.dumps(state)


def cases(workdir):
    """Yield (name, held, detail)."""
    from sklearn.base import clone
    from store_damage import HOLDER

    from sklearn_cincer import SimulatedOracle, SkepticalCleaner
    from sklearn_cincer.oracles import AnnotationSession, AnnotationStore, Answer

    X, y, y_noisy = _data()
    for est_name, estimator in _estimators().items():
        for strategy in ("relabel", "drop"):
            path = os.path.join(workdir, f"{est_name}-{strategy}.sqlite")
            session = AnnotationSession(SimulatedOracle(y), path)
            cleaner = SkepticalCleaner(
                clone(estimator),
                oracle=session,
                counter_examples=strategy,
                n_bootstrap=60,
                threshold=0.1,
                random_state=0,
            ).fit(X[:100], y_noisy[:100])
            store = AnnotationStore(path)
            where = f"{est_name}/{strategy}"

            def answers():
                # a question left pending (asked, never answered) is not an answer
                return [r for r in store.records() if r["status"] != "pending"]

            def attempt(name, call):
                before, rows = _state(cleaner), answers()
                try:
                    call()
                except Exception as exc:
                    checks = (
                        ("fitted state", _state(cleaner) == before),
                        ("store's answers", answers() == rows),
                    )
                    what = [w for w, same in checks if not same]
                    detail = (" and ".join(what) + " changed") if what else ""
                    return (f"{where}: {name}", not what, detail or type(exc).__name__)
                return f"{where}: {name}", False, "no error"

            for name, (Xb, yb) in _bad_data(X, y_noisy).items():
                yield attempt(
                    f"partial_fit, {name}", lambda: cleaner.partial_fit(Xb, yb)
                )
                yield attempt(f"fit, {name}", lambda: cleaner.fit(Xb, yb))
            for name, params in BAD_PARAMS.items():

                def refit_with(params=params):
                    good = cleaner.get_params(deep=False)
                    cleaner.set_params(**params)
                    try:
                        cleaner.fit(X[:100], y_noisy[:100])
                    finally:
                        cleaner.set_params(**good)

                yield attempt(f"fit with {name}", refit_with)
            for name, bad in _bad_oracles(Answer).items():

                def ask_bad(bad=bad):
                    cleaner.oracle = AnnotationSession(bad, store)
                    try:
                        cleaner.partial_fit(X[100:], y_noisy[100:])
                    finally:
                        cleaner.oracle = session

                yield attempt(name, ask_bad)
            # a store in use by another process
            session.close()  # this process lets go; the holder takes the store
            store.close()
            env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
            holder = subprocess.Popen(
                [sys.executable, "-c", HOLDER, path],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert holder.stdout.readline().strip() == "holding"

            def in_use():
                cleaner.oracle = AnnotationSession(SimulatedOracle(y), path)
                try:
                    cleaner.partial_fit(X[100:], y_noisy[100:])
                finally:
                    cleaner.oracle = session

            yield attempt("the store in use by another process", in_use)
            holder.kill()
            holder.wait()
            holder.stdout.close()
            store.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    held = total = 0
    failed = []
    with tempfile.TemporaryDirectory() as workdir:
        for name, ok, detail in cases(workdir):
            total += 1
            held += bool(ok)
            if not ok:
                failed.append(f"FAILED  {name}: {detail}")
    for line in failed:
        print(line)
    print(
        f"{held} of {total} bad calls raised and left the cleaner and its store "
        "as they were."
    )
    return 0 if held == total else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
