"""``sklearn-cincer demo``: CINCER against skeptical learning on breast cancer.

The quick start of the README. Everything it needs ships with scikit-learn.
"""

import time

_STRATEGIES = (("CINCER", "relabel"), ("No CE", "none"))


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="clean 20%% label noise on breast cancer, with and without counter-examples",
        description=(
            "Inject label noise into scikit-learn's breast-cancer data, stream it "
            "through CINCER with a simulated annotator, and compare with the same "
            "run without counter-examples (skeptical learning)."
        ),
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise and stream")
    parser.add_argument("--noise", type=float, default=0.2, help="fraction of flipped labels")
    parser.add_argument("--n-bootstrap", type=int, default=100, help="bootstrap examples")
    parser.add_argument("--n-stream", type=int, default=100, help="streamed examples")
    parser.add_argument("--threshold", type=float, default=0.2, help="margin threshold")
    parser.add_argument(
        "--model", choices=("lr", "mlp"), default="lr",
        help="logistic regression or a small MLP (default: lr)",
    )
    parser.add_argument(
        "--show", type=int, default=12, help="how many of CINCER's questions to print"
    )
    parser.set_defaults(func=run)
    return parser


def _model(name, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if name == "mlp":
        return MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=300, random_state=seed)
    return LogisticRegression()


def load_demo_data(seed=0, noise=0.2, n_bootstrap=100, n_stream=100):
    """Breast cancer, min-max scaled, split 80:20, with noise on the stream.

    Returns ``X, y_true, y_noisy, is_noisy, X_test, y_test, target_names``
    where ``X`` holds the ``n_bootstrap + n_stream`` training examples in
    stream order.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    from .datasets import make_label_noise

    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, random_state=seed, stratify=data.target
    )
    n = n_bootstrap + n_stream
    if n > X_train.shape[0]:
        raise ValueError(
            f"Breast cancer has {X_train.shape[0]} training examples; "
            f"n_bootstrap + n_stream = {n} is too many."
        )
    scaler = MinMaxScaler().fit(X_train)
    X, y = scaler.transform(X_train)[:n], y_train[:n]
    y_noisy, is_noisy = make_label_noise(y, noise, random_state=seed)
    return X, y, y_noisy, is_noisy, scaler.transform(X_test), y_test, data.target_names


def run(args):
    from sklearn.metrics import f1_score

    from . import SimulatedOracle, SkepticalCleaner

    X, y, y_noisy, is_noisy, X_test, y_test, names = load_demo_data(
        args.seed, args.noise, args.n_bootstrap, args.n_stream
    )
    print(
        f"CINCER demo: breast cancer, {args.noise:.0%} label noise, "
        f"{args.n_bootstrap} bootstrap + {args.n_stream} streamed examples, "
        f"model {args.model}, threshold {args.threshold}, seed {args.seed}."
    )
    print(
        f"Noisy labels: {is_noisy.sum()} of {len(y)} "
        f"({is_noisy[:args.n_bootstrap].sum()} in the bootstrap, "
        f"{is_noisy[args.n_bootstrap:].sum()} in the stream).\n"
    )
    results = {}
    for title, strategy in _STRATEGIES:
        start = time.perf_counter()
        cleaner = SkepticalCleaner(
            _model(args.model, args.seed),
            oracle=SimulatedOracle(y),
            counter_examples=strategy,
            threshold=args.threshold,
            n_bootstrap=args.n_bootstrap,
            random_state=args.seed,
        ).fit(X, y_noisy)
        seconds = time.perf_counter() - start
        left = int((cleaner.y_ != y[cleaner.ids_]).sum())
        f1 = f1_score(y_test, cleaner.predict(X_test), average="weighted")
        results[title] = (cleaner, left, f1, seconds)

    cincer = results["CINCER"][0]
    _print_questions(cincer, y, names, args.show)
    _print_summary(results, int(is_noisy.sum()), args.n_stream)
    return 0


def _print_questions(cleaner, y_true, names, show):
    print(f"CINCER asked {cleaner.n_queries_} questions; the first {min(show, cleaner.n_queries_)}:")
    header = (
        f"{'round':>5}  {'example':>7}  {'label':>9} -> {'answer':<10} "
        f"{'counter-ex.':>11}  {'label':>9} -> {'answer':<10} {'margin':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in cleaner.history_[:show]:
        counter = "-" if r.counter_example_id is None else str(r.counter_example_id)
        before = names[r.counter_label_before] if r.counter_example_id is not None else "-"
        after = names[r.counter_label_after] if r.counter_example_id is not None else "-"
        print(
            f"{r.round:>5}  {r.example_id:>7}  {names[r.label_before]:>9} -> "
            f"{_mark(names[r.label_after], r.label_after != r.label_before):<10} "
            f"{counter:>11}  {before:>9} -> "
            f"{_mark(after, r.counter_label_after != r.counter_label_before):<10} "
            f"{r.margin:>6.2f}"
        )
    print("(* = the annotator changed the label)\n")


def _mark(text, changed):
    return f"{text}*" if changed else str(text)


def _print_summary(results, n_noisy, n_stream):
    titles = list(results)
    rows = [
        ("questions asked", [results[t][0].n_queries_ for t in titles], "d"),
        ("examples relabeled", [results[t][0].n_relabeled_examples_ for t in titles], "d"),
        (
            "counter-examples relabeled",
            [results[t][0].n_relabeled_counter_examples_ for t in titles],
            "d",
        ),
        ("labels cleaned", [
            results[t][0].n_relabeled_examples_ + results[t][0].n_relabeled_counter_examples_
            for t in titles
        ], "d"),
        (f"noisy labels left (of {n_noisy})", [results[t][1] for t in titles], "d"),
        ("test F1 (weighted)", [results[t][2] for t in titles], ".3f"),
        ("ms per round", [1000 * results[t][3] / max(n_stream, 1) for t in titles], ".1f"),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{t:>8}" for t in titles))
    for name, values, fmt in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{v:>8{fmt}}" for v in values))
    cincer, none = results["CINCER"][0], results["No CE"][0]
    gained = (
        cincer.n_relabeled_examples_ + cincer.n_relabeled_counter_examples_
        - none.n_relabeled_examples_
    )
    print(
        f"\nWith counter-examples the annotator cleaned {gained} more labels for "
        f"{cincer.n_queries_ - none.n_queries_:+d} questions."
    )
