"""Which counter-example is worth a second look? A study on the paper's streams.

Runs the cleaning loop of the benchmark (same streams, models and seeds as
``sklearn-cincer benchmark``) with a selector that, at every question,
records for every candidate counter-example (training examples labeled as the
prediction):

- whether it is mislabeled (against the stream's true labels);
- its residual ``|t(y_k) - p_k|`` and in-sample probability of its label;
- Eq. 14 with the exact top-layer Fisher at several dampings, and with the
  identity (Practical Fisher restricted to the last layer);
- its self-influence ``g_k^T (n F_lambda)^-1 g_k`` and the closed-form
  leave-one-out probability of its own label (one Newton step on the last
  layer with the Hessian of the training set without ``z_k``);
- Eq. 14 with that leave-one-out correction (the exact first-order change of
  ``log P(y_t | x_t)`` when ``z_k`` leaves, rather than the infinitesimal
  one).

and chooses the counter-example with one of several rules (``--rule``), so
the closed loop of each rule can be run too. It prints, pooled over all
questions: how often each rule's top candidate is mislabeled on the same
questions, the AUC of each signal for "mislabeled", and the Spearman
correlation of each score with the candidate's residual (the mechanism).

Run (results/ is ignored by git)::

    python benchmarks/cleaning_selector_study.py --pair mnist:lr --rule eq14 \\
        --output results/study
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, softmax
from scipy.stats import rankdata, spearmanr
from threadpoolctl import threadpool_limits

from sklearn_cincer import TopFisherSelector
from sklearn_cincer._core import fisher_math as _fisher
from sklearn_cincer.benchmark import make_model, make_stream, repeat_seed
from sklearn_cincer.benchmark._runner import run_cleaning
from sklearn_cincer.selectors._base import as_row

DAMPINGS = (1e-3, 1e-1, 10.0, 1e3)
_LOG = []  # rows recorded by the selector (clone() deep-copies parameters)
_TRUTH = {}  # row bytes -> true label


def solve_many(factor, G):
    """``(F + lambda I)^-1 G_r`` for a stack ``G`` of shape (r, k, m)."""
    G = np.asarray(G, dtype=float)
    r, k, m = G.shape
    if isinstance(factor, _fisher.DualFactor):
        B, Ht = factor.B, factor.Ht  # (n, k, k), (n, m)
        n = B.shape[0]
        GH = G @ Ht.T  # (r, k, n)
        Ug = np.einsum("nab,ran->rnb", B, GH).reshape(r, n * k)
        from scipy import linalg

        W = linalg.cho_solve((factor.L, True), Ug.T, check_finite=False).T
        C = np.einsum("nab,rnb->rna", B, W.reshape(r, n, k))  # (r, n, k)
        return (G - np.transpose(C, (0, 2, 1)) @ Ht) / factor.lam
    from scipy import linalg

    X = linalg.cho_solve(factor, G.reshape(r, k * m).T, check_finite=False)
    return X.T.reshape(r, k, m)


def output_covariance(P, link):
    n, k = P.shape
    if link == "softmax":
        return np.einsum("na,ab->nab", P, np.eye(k)) - P[:, :, None] * P[:, None, :]
    return np.einsum("na,ab->nab", P * (1 - P), np.eye(k))


def own_probability(P, y, link):
    """Probability of each row's label from the link's outputs."""
    if link == "logistic":
        p = P[:, 0]
        return np.where(y == 1, p, 1 - p)
    if link == "ovr":
        P = P / P.sum(axis=1, keepdims=True)
    return P[np.arange(P.shape[0]), y]


def leverage(sel, rows):
    """``M_j = J_j (n F_lambda)^-1 J_j^T`` (k x k) for the given rows."""
    view = sel.view_
    H = np.asarray(sel._H[rows], dtype=float)
    Ht = _fisher.with_bias(H, view.fit_intercept)
    k = sel._P.shape[1]
    r, m = Ht.shape[0], Ht.shape[1]
    E = np.zeros((r, k, k, m))
    for a in range(k):
        E[:, a, a, :] = Ht
    X = solve_many(sel.factor_, E.reshape(r * k, k, m)).reshape(r, k, k, m)
    # M[j, a, b] = <E_{j,a}, X_{j,b}> = X_{j,b}[a, :] . h~_j
    M = np.einsum("jbam,jm->jab", X, Ht)
    return M / sel.n_train_


def candidate_signals(sel, x, y, candidates):
    """Every signal of the study for the candidates of one question."""
    view = sel.view_
    link = view.link
    R = sel._R[candidates]
    P = sel._P[candidates]
    H = np.asarray(sel._H[candidates], dtype=float)
    k = P.shape[1]
    if link == "logistic":
        yk = (R[:, 0] + P[:, 0] > 0.5).astype(int)
    else:
        yk = np.argmax(R + P, axis=1)
    M = leverage(sel, candidates)
    Lam = output_covariance(P, link)
    eye = np.eye(k)
    A = eye[None] - Lam @ M  # I - Lambda M
    Rt = np.linalg.solve(A, R[:, :, None])[:, :, 0]  # (I - Lambda M)^-1 r
    dz_loo = -np.einsum("jab,jb->ja", M, Rt)
    dz_lin = -np.einsum("jab,jb->ja", M, R)
    Z = view.logits(H)
    out = softmax if link == "softmax" else expit

    def own(Zs):
        Pz = out(Zs, axis=1) if link == "softmax" else out(Zs)
        return own_probability(Pz, yk, link)

    V = sel.query_direction(x, y)
    signals = {
        "resid": np.linalg.norm(R, axis=1),
        "p_own": own_probability(P, yk, link),
        "self_inf": np.einsum("ja,jab,jb->j", R, M, R),
        "p_loo_lin": own(Z + dz_lin),
        "p_loo": own(Z + dz_loo),
        "eq14": _fisher.kernel_scores(V, H, R, view.fit_intercept),
        "eq14_loo": _fisher.kernel_scores(V, H, Rt, view.fit_intercept),
    }
    h = view.features(as_row(x))
    g = _fisher.gradients(
        h, view.outputs(h), view.encode([y]), link, view.fit_intercept
    ).reshape(view.n_outputs, -1)
    signals["identity"] = _fisher.kernel_scores(g, H, R, view.fit_intercept)
    return signals


SUSPICION = {  # how likely a candidate's label is wrong, by signal
    "loo": lambda s: 1 - s["p_loo"],
    "lin": lambda s: 1 - s["p_loo_lin"],
    "own": lambda s: 1 - s["p_own"],
    "resid": lambda s: s["resid"],
}


def choose(signals, rule):
    """Scores of a rule: the highest is the counter-example."""
    s = signals["eq14"]
    pos = s > 0
    if rule in signals:
        return signals[rule]
    kind, _, susp_name = rule.partition(":")
    susp = SUSPICION[susp_name or "loo"](signals)
    if kind == "product":  # influence x suspicion, among supporters
        return np.where(pos, s * susp, -np.inf)
    if kind == "product_loo":
        sl = signals["eq14_loo"]
        return np.where(sl > 0, sl * susp, -np.inf)
    if kind == "suspicion":  # most suspicious supporter
        return np.where(pos, susp, -np.inf)
    if kind == "any":  # most suspicious candidate, supporter or not
        return susp
    if kind == "rank":
        r = rankdata(s) + rankdata(susp)
        return np.where(pos, r, -np.inf)
    if kind == "identity_pos":
        return np.where(pos, signals["identity"], -np.inf)
    raise ValueError(rule)


def model_l2(estimator, n):
    """The L2 strength of the model's own objective (a mean over n rows)."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from sklearn_cincer._core.parameter_views import LinearParameterView

    if isinstance(estimator, (LogisticRegression, SGDClassifier)):
        l2, _, per_sample, _ = LinearParameterView(estimator)._penalty()
        return l2 / n if per_sample else l2
    return 0.0


def relative_damping(estimator, X, lam):
    """``lam`` as a fraction of the mean eigenvalue of the top-layer Fisher."""
    from sklearn_cincer._core.last_layer import last_layer_view

    view = last_layer_view(estimator)
    H = view.features(X)
    P = view.outputs(H)
    if view.link == "softmax":
        tr = P.sum(1) - (P**2).sum(1)
    else:
        tr = (P * (1 - P)).sum(1)
    sq = (H**2).sum(1) + view.fit_intercept
    dim = P.shape[1] * (H.shape[1] + view.fit_intercept)
    return lam / (np.mean(tr * sq) / dim)


class StudySelector(TopFisherSelector):
    """Top Fisher that records the study's signals and chooses by ``rule``."""

    def __init__(self, damping=1e-3, rule="eq14", tag="", auto=False):
        super().__init__(damping=damping)
        self.rule = rule
        self.tag = tag
        self.auto = auto

    def fit(self, estimator, X, y):
        if self.auto:
            lam = model_l2(estimator, len(y))
            if lam > 0:
                self.damping = relative_damping(estimator, X, lam)
        return super().fit(estimator, X, y)

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        t0 = time.perf_counter()
        signals = candidate_signals(self, x, y, candidates)
        for d in DAMPINGS[1:]:
            other = TopFisherSelector(damping=d).fit(self._est, self._X, self._y)
            signals[f"eq14_d{d:g}"] = other.score(x, y, candidates)
        scores = choose(signals, self.rule)
        noisy = np.array(
            [_TRUTH[self._X[c].tobytes()] != self._y[c] for c in candidates]
        )
        q = len({r["query"] for r in _LOG})
        for i, c in enumerate(candidates):
            row = {
                "tag": self.tag,
                "query": q,
                "n_train": self.n_train_,
                "cand": int(c),
                "noisy": bool(noisy[i]),
                "chosen": i == int(np.argmax(scores)),
                "seconds": time.perf_counter() - t0,
            }
            row.update({name: float(v[i]) for name, v in signals.items()})
            _LOG.append(row)
        return scores

    def _fit(self, estimator, X, y):
        super()._fit(estimator, X, y)
        self._est, self._y = estimator, np.asarray(y)


def run(pair, rule, repeats, refit, data_home, output, rounds=100, auto=False):
    from sklearn_cincer.datasets import load_dataset

    dataset, model = pair.split(":")
    data = load_dataset(dataset, data_home=data_home, random_state=0)
    classes = np.unique(np.concatenate([data.y_train, data.y_test]))
    frames, summary = [], []
    for r in range(repeats):
        seed = repeat_seed(0, r)
        stream = make_stream(
            data.X_train,
            data.y_train,
            n_bootstrap=100 if dataset != "20ng" else 500,
            n_rounds=rounds,
            noise_rate=0.2,
            random_state=seed,
        )
        _TRUTH.clear()
        for xi, yi in zip(stream.X, stream.y_true):
            _TRUTH[np.asarray(xi, dtype=float).tobytes()] = yi
            _TRUTH[np.asarray(xi).tobytes()] = yi
        _LOG.clear()
        trace, cleaner = run_cleaning(
            stream,
            data.X_test,
            data.y_test,
            model=make_model(model, random_state=seed),
            selector=StudySelector(rule=rule, tag=f"{pair}/{rule}/{r}", auto=auto),
            refit=refit,
            classes=classes,
            random_state=seed,
            eval_every=100,
        )
        frame = pd.DataFrame(_LOG)
        frame["repeat"] = r
        frames.append(frame)
        last = trace[-1]
        summary.append(
            {
                "repeat": r,
                "cleaned": last["n_cleaned"],
                "cleaned_ce": last["n_cleaned_ce"],
                "queries": last["n_queried"],
                "f1": last["f1"],
            }
        )
        print(
            f"{pair} {rule} auto={auto} repeat {r}: cleaned {last['n_cleaned']} "
            f"(CE {last['n_cleaned_ce']}), queries {last['n_queried']}, "
            f"F1 {last['f1']:.3f}",
            flush=True,
        )
    frame = pd.concat(frames, ignore_index=True)
    summ = pd.DataFrame(summary)
    if output:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        name = f"{pair.replace(':', '_')}__{rule}{'__auto' * auto}__{refit}"
        frame.to_csv(out / f"{name}__candidates.csv.gz", index=False)
        summ.to_csv(out / f"{name}__summary.csv", index=False)
    return frame, summ


def auc(score, label):
    label = np.asarray(label, bool)
    if label.all() or not label.any():
        return np.nan
    rk = rankdata(score)
    n1 = label.sum()
    return (rk[label].sum() - n1 * (n1 + 1) / 2) / (n1 * (~label).sum())


RULES = (
    "eq14",
    "eq14_d0.1",
    "eq14_d10",
    "eq14_d1000",
    "identity",
    "eq14_loo",
    "identity_pos",
) + tuple(
    f"{kind}:{susp}"
    for kind in ("product", "suspicion", "rank", "any")
    for susp in SUSPICION
)


def analyse(frame):
    """Offline comparison of rules and signals on the recorded questions."""
    keys = ["repeat", "query"]
    top = {}
    for rule in RULES:
        hits = []
        for _, g in frame.groupby(keys):
            signals = {c: g[c].to_numpy() for c in g.columns}
            s = choose(signals, rule)
            hits.append(bool(g["noisy"].to_numpy()[int(np.argmax(s))]))
        top[rule] = np.mean(hits)
    chance = frame.groupby(keys)["noisy"].mean().mean()
    print(
        f"questions: {frame.groupby(keys).ngroups}, candidates per question "
        f"{frame.groupby(keys).size().mean():.1f}, chance {chance:.3f}"
    )
    print("top candidate mislabeled, per rule (same questions):")
    for rule, v in top.items():
        print(f"  {rule:12s} {v:.3f}")
    print("AUC for 'mislabeled' within a question (mean over questions):")
    sig = [
        "resid",
        "self_inf",
        "eq14",
        "eq14_d10",
        "eq14_d1000",
        "identity",
        "eq14_loo",
    ]
    res = {s: [] for s in sig + ["1-p_own", "1-p_loo", "1-p_loo_lin"]}
    rho = {
        s: []
        for s in ["eq14", "eq14_d0.1", "eq14_d10", "eq14_d1000", "identity", "eq14_loo"]
    }
    for _, g in frame.groupby(keys):
        for s in sig:
            res[s].append(auc(g[s], g["noisy"]))
        for s in ("p_own", "p_loo", "p_loo_lin"):
            res["1-" + s].append(auc(-g[s], g["noisy"]))
        if len(g) > 2:
            for s in rho:
                rho[s].append(spearmanr(g[s], g["resid"])[0])
    for s, v in res.items():
        print(f"  {s:12s} {np.nanmean(v):.3f}")
    print("Spearman(score, residual norm) within a question (mean):")
    for s, v in rho.items():
        print(f"  {s:12s} {np.nanmean(v):+.3f}")
    return top


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="mnist:lr")
    parser.add_argument("--rule", default="eq14")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--refit", default="incremental")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--output", default="results/study")
    parser.add_argument(
        "--auto", action="store_true", help="damping from the model's own L2 penalty"
    )
    parser.add_argument(
        "--analyse",
        nargs="*",
        default=None,
        help="only analyse these saved candidates files",
    )
    args = parser.parse_args(argv)
    if args.analyse is not None:
        for path in args.analyse:
            print(path)
            analyse(pd.read_csv(path))
        return
    with threadpool_limits(1):
        frame, summ = run(
            args.pair,
            args.rule,
            args.repeats,
            args.refit,
            args.data_home,
            args.output,
            args.rounds,
            args.auto,
        )
    print(summ.mean(numeric_only=True).to_string())
    analyse(frame)


if __name__ == "__main__":
    main()
