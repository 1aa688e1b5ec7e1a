"""Crash trials: SIGKILL a labeling session at random moments, resume, check.

Each trial runs a CINCER session in a child process, with an
``AnnotationSession`` writing to a fresh SQLite store. The annotator answers
at random (from ``os.urandom``, so a question asked twice would very likely
get another answer: only the store can make a resumed run agree with the
first). The parent kills the child with SIGKILL at a random moment, up to
``--kills`` times, then lets a last child run to the end. It checks:

1. no answer is lost: every answer in the store right after a kill is still
   there, unchanged, at the end;
2. none is applied twice: the store holds one live answer per question, and
   the final run's history holds each question once, with the stored answer;
3. the final cleaned labels (``ids_``, ``y_``) equal those of an
   uninterrupted run fed the same answers (from a plain dict, no store).

Usage::

    python benchmarks/crash_trials.py --trials 20
"""

import argparse
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import time

N_SAMPLES, N_BOOTSTRAP, SEED = 150, 30, 0
CLEANER_PARAMS = dict(n_bootstrap=N_BOOTSTRAP, random_state=SEED, threshold=0.2)


def _data(n_samples=N_SAMPLES):
    from sklearn.datasets import make_classification

    from sklearn_cincer.datasets import make_label_noise

    X, y = make_classification(n_samples=n_samples, n_features=8, n_informative=5,
                               n_classes=3, random_state=SEED)
    y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=SEED)
    return X, y_noisy


def _cleaner(oracle):
    from sklearn.linear_model import LogisticRegression

    from sklearn_cincer import SkepticalCleaner

    return SkepticalCleaner(LogisticRegression(), oracle=oracle, **CLEANER_PARAMS)


class RandomAnnotator:
    """Answers at random (not reproducible), a little slowly, like a person."""

    def __init__(self, delay=0.015):
        self.rng = random.Random(os.urandom(16))
        self.delay = delay

    def __call__(self, query):
        from sklearn_cincer.oracles import Answer

        time.sleep(self.rng.uniform(0, 2 * self.delay))
        classes = [c.item() for c in query.classes]
        counter = self.rng.choice(classes) if query.has_counter_example else None
        return Answer(label=self.rng.choice(classes), counter_label=counter,
                      annotator="random")


class DictOracle:
    """Answers from recorded answers, keyed by question."""

    def __init__(self, answers):
        self.answers = answers

    def __call__(self, query):
        from sklearn_cincer.oracles._store import question_key

        return self.answers[question_key(query)]


def child(store_path, out_path, n_samples=N_SAMPLES):
    """One (re)run of the session; writes the result when it gets to the end."""
    from sklearn_cincer.oracles import AnnotationSession

    X, y = _data(n_samples)
    session = AnnotationSession(RandomAnnotator(), store_path)
    print("ready", flush=True)
    cleaner = _cleaner(session).fit(X, y)
    result = {"ids": cleaner.ids_.tolist(), "y": cleaner.y_.tolist(),
              "history": [(r.example_id, r.counter_example_id, r.label_before,
                           r.counter_label_before, r.label_after,
                           r.counter_label_after) for r in cleaner.history_],
              "n_replayed": session.n_replayed_, "n_asked": session.n_asked_}
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(result, fh)
    os.replace(tmp, out_path)


def _answered(store_path):
    """Live answers in the store, by question key."""
    from sklearn_cincer.oracles import AnnotationStore

    with AnnotationStore(store_path) as store:
        rows = store.records()
    keys = {}
    for r in rows:
        if r["status"] != "answered":
            continue
        key = json.dumps([r["example_id"], r["counter_example_id"],
                          r["label_before"], r["counter_label_before"]])
        if key in keys:
            raise AssertionError(f"two live answers for question {key}")
        keys[key] = (r["question_id"], r["label_after"], r["counter_label_after"])
    return keys, len(rows)


def _spawn(store_path, out_path, n_samples):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--child", store_path, out_path,
         "--n-samples", str(n_samples)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    line = proc.stdout.readline()  # "ready": imports and data done
    if line.strip() != "ready":
        proc.wait()
        raise RuntimeError(f"child failed to start: {proc.stderr.read()}")
    return proc


def trial(workdir, rng, kills=2, max_delay=1.5, n_samples=N_SAMPLES):
    """One trial; returns what happened. Raises AssertionError on a failure."""
    from sklearn_cincer.oracles import Answer

    store_path = os.path.join(workdir, "session.sqlite")
    out_path = os.path.join(workdir, "result.pkl")
    snapshots, killed_after = [], []
    for _ in range(kills):
        proc = _spawn(store_path, out_path, n_samples)
        delay = rng.uniform(0, max_delay)
        time.sleep(delay)
        if proc.poll() is not None:  # finished before the kill
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        snapshot, _ = _answered(store_path)
        snapshots.append(snapshot)
        if os.path.exists(out_path):
            # the kill landed after the session had written its result (while
            # the interpreter was exiting): nothing was interrupted, so it does
            # not count as a kill and there is nothing to resume
            break
        killed_after.append(len(snapshot))
    if not os.path.exists(out_path):
        proc = _spawn(store_path, out_path, n_samples)
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"the resumed session failed: {err}")
    with open(out_path, "rb") as fh:
        result = pickle.load(fh)
    final, n_rows = _answered(store_path)

    # 1. no recorded answer is lost (nor changed)
    for snapshot in snapshots:
        for key, value in snapshot.items():
            assert final.get(key) == value, f"answer to {key} lost or changed"
    # 2. none applied twice: one history entry per stored answer, and they agree
    asked = [json.dumps(list(h[:4])) for h in result["history"]]
    assert len(asked) == len(set(asked)), "a question was applied twice"
    assert set(asked) == set(final), "history and store disagree on the questions"
    for h, key in zip(result["history"], asked):
        assert (h[4], h[5]) == final[key][1:], f"another answer applied to {key}"
    # 3. same labels as an uninterrupted run with the same answers
    X, y = _data(n_samples)
    answers = {k: Answer(label=v[1], counter_label=v[2]) for k, v in final.items()}
    reference = _cleaner(DictOracle(answers)).fit(X, y)
    assert reference.ids_.tolist() == result["ids"], "training sets differ"
    assert reference.y_.tolist() == result["y"], "cleaned labels differ"
    return {"kills": len(killed_after), "answers_at_kills": killed_after,
            "answers": len(final), "store_rows": n_rows,
            "replayed_in_last_run": result["n_replayed"],
            "asked_in_last_run": result["n_asked"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--max-delay", type=float, default=None,
                        help="longest wait before a kill, in seconds; default: "
                        "the duration of an uninterrupted session, measured first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-samples", type=int, default=N_SAMPLES)
    parser.add_argument("--child", nargs=2, metavar=("STORE", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        child(*args.child, n_samples=args.n_samples)
        return 0
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # the reference runs: BLAS threads only fight on small data
    rng = random.Random(args.seed)
    if args.max_delay is None:
        with tempfile.TemporaryDirectory() as workdir:
            start = time.perf_counter()
            proc = _spawn(os.path.join(workdir, "s.sqlite"),
                          os.path.join(workdir, "r.pkl"), args.n_samples)
            ready = time.perf_counter()
            proc.communicate(timeout=600)
            args.max_delay = time.perf_counter() - ready
        print(f"an uninterrupted session takes {args.max_delay:.1f} s after start-up "
              f"({ready - start:.1f} s); kills come uniformly within that", flush=True)
    failures, mid = 0, 0
    for i in range(args.trials):
        with tempfile.TemporaryDirectory() as workdir:
            try:
                info = trial(workdir, rng, kills=args.kills, max_delay=args.max_delay,
                             n_samples=args.n_samples)
            except AssertionError as exc:
                failures += 1
                print(f"trial {i + 1}: FAILED: {exc}", flush=True)
                continue
        if any(0 < n < info["answers"] for n in info["answers_at_kills"]):
            mid += 1
        print(f"trial {i + 1}: ok  {info}", flush=True)
    print(f"{args.trials - failures}/{args.trials} trials passed; {mid} killed in "
          "the middle of the answers (some answered, some not).")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
