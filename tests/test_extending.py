"""A model family the package does not know, taught to it from outside.

The family lives in this test module, as it would in a user's code: a
softmax model on fixed random features. Registered with the public
extension API, it must give the same questions and counter-examples as the
same model written as a Pipeline of scikit-learn steps, which the package
reads itself.
"""

import pickle

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, minmax_scale

from sklearn_cincer import (
    CleaningSelector,
    FullFisherSelector,
    InfluenceSelector,
    SimulatedOracle,
    SkepticalCleaner,
    TopFisherSelector,
)
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.extend import (
    LastLayerView,
    ParameterView,
    fisher_matrix,
    last_layer_view,
    outputs,
    parameter_view,
    register_last_layer_view,
    register_parameter_view,
    residuals,
)


class RandomFeatures:
    """``cos(X W + b)``: a callable object, so that views of it pickle."""

    def __init__(self, n_features, n_components, random_state):
        rng = np.random.RandomState(random_state)
        self.W = rng.normal(size=(n_features, n_components))
        self.b = rng.uniform(0, 2 * np.pi, size=n_components)

    def __call__(self, X):
        return np.cos(np.asarray(X, dtype=float) @ self.W + self.b)


class RandomFeatureSoftmax(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression on fixed random cosine features."""

    def __init__(self, n_components=30, C=1.0, random_state=0):
        self.n_components = n_components
        self.C = C
        self.random_state = random_state

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        self.features_ = RandomFeatures(
            X.shape[1], self.n_components, self.random_state
        )
        inner = LogisticRegression(C=self.C, max_iter=1000)
        inner.fit(self.features_(X), y)
        self.classes_ = inner.classes_
        self.coef_, self.intercept_ = inner.coef_, inner.intercept_
        return self

    def predict_proba(self, X):
        return softmax(self.features_(X) @ self.coef_.T + self.intercept_, axis=1)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class UnknownSoftmax(RandomFeatureSoftmax):
    """The same model under a class nobody registered."""


def is_random_feature_softmax(estimator):
    return type(estimator) is RandomFeatureSoftmax


def random_feature_view(estimator, needs="This selector"):
    return LastLayerView(
        estimator.classes_,
        "softmax",
        estimator.coef_,
        estimator.intercept_,
        transform=estimator.features_,
    )


register_last_layer_view(is_random_feature_softmax, random_feature_view)


class RandomFeatureParameters(ParameterView):
    """All parameters of the family: its last layer, ``[coef_, intercept_]``.

    The objective is LogisticRegression's, as a mean over ``n`` rows:
    ``mean log loss + ||coef_||^2 / (2 C n)``; for a softmax on fixed
    features its Hessian is the Fisher plus that penalty.
    """

    def __init__(self, estimator):
        self.estimator = estimator
        self.classes = estimator.classes_
        k, d = estimator.coef_.shape
        self.shape = (k, d + 1)
        self.n_params = k * (d + 1)

    def parameters(self):
        est = self.estimator
        return np.hstack([est.coef_, est.intercept_[:, None]]).reshape(-1)

    def predict_proba(self, X):
        return self.estimator.predict_proba(X)

    def _features(self, X):
        est = self.estimator
        H = est.features_(X)
        return H, outputs(H, est.coef_, est.intercept_, "softmax")

    def gradients(self, X, y, batch_size=256):
        X, y = np.asarray(X), np.asarray(y)
        for start in range(0, X.shape[0], batch_size):
            H, P = self._features(X[start : start + batch_size])
            labels = np.searchsorted(self.classes, y[start : start + batch_size])
            R = residuals(P, labels, "softmax")
            Ht = np.hstack([H, np.ones((H.shape[0], 1))])
            yield (R[:, :, None] * Ht[:, None, :]).reshape(H.shape[0], -1)

    has_exact_hessian = True

    def _penalty(self, n_samples):
        penalty = np.zeros(self.shape)
        penalty[:, :-1] = 1.0 / (self.estimator.C * n_samples)
        return penalty.reshape(-1)

    def hessian(self, X, y, n_samples=None):
        H, P = self._features(X)
        n_samples = H.shape[0] if n_samples is None else n_samples
        return fisher_matrix(H, P, "softmax") + np.diag(self._penalty(n_samples))

    def hvp(self, X, y, v, n_samples=None):
        return self.hessian(X, y, n_samples) @ v

    def null_space(self):
        # A shift of every intercept changes no softmax output and is not
        # penalized.
        N = np.zeros(self.shape)
        N[:, -1] = 1.0 / np.sqrt(self.shape[0])
        return N.reshape(-1, 1)


def random_feature_parameters(estimator, needs="This selector", device=None):
    return RandomFeatureParameters(estimator)


register_parameter_view(is_random_feature_softmax, random_feature_parameters)


def as_pipeline(n_features, n_components=30, C=1.0, random_state=0):
    """The same model as scikit-learn steps, which the package reads itself."""
    features = RandomFeatures(n_features, n_components, random_state)
    return make_pipeline(
        FunctionTransformer(features), LogisticRegression(C=C, max_iter=1000)
    )


def iris_stream(seed=0, noise_rate=0.2):
    X, y = load_iris(return_X_y=True)
    order = np.random.RandomState(seed).permutation(y.shape[0])
    X, y = minmax_scale(X)[order], y[order]
    y_noisy, _ = make_label_noise(y, noise_rate, random_state=seed)
    return X, y, y_noisy


def picks(cleaner):
    return [
        (
            r.round,
            r.example_id,
            r.counter_example_id,
            r.label_after,
            r.counter_label_after,
        )
        for r in cleaner.history_
    ]


def clean(estimator, selector, X, y, y_noisy):
    cleaner = SkepticalCleaner(
        estimator,
        selector=selector,
        oracle=SimulatedOracle(y),
        n_bootstrap=30,
        random_state=0,
    )
    return cleaner.fit(X, y_noisy)


def test_the_registered_view_is_the_pipelines():
    X, y, _ = iris_stream()
    ours = last_layer_view(RandomFeatureSoftmax().fit(X, y))
    theirs = last_layer_view(as_pipeline(X.shape[1]).fit(X, y))
    assert ours.link == theirs.link == "softmax"
    np.testing.assert_allclose(ours.features(X), theirs.features(X))
    np.testing.assert_allclose(ours.coef, theirs.coef)


@pytest.mark.parametrize(
    "selector, reference",
    [
        # The default selector's damping="auto" reads the L2 penalty of the
        # families it knows and falls back to 1e-3 for others: the Pipeline
        # gets that same damping by hand.
        (None, CleaningSelector(damping=1e-3)),
        (TopFisherSelector(), TopFisherSelector()),
    ],
    ids=["default", "top_fisher"],
)
def test_a_registered_family_cleans_as_the_same_model_the_package_knows(
    selector, reference
):
    X, y, y_noisy = iris_stream()
    ours = clean(RandomFeatureSoftmax(), selector, X, y, y_noisy)
    theirs = clean(as_pipeline(X.shape[1]), reference, X, y, y_noisy)
    assert len(ours.history_) > 3
    assert all(r.counter_example_id is not None for r in ours.history_)
    assert picks(ours) == picks(theirs)
    # The fitted cleaner, its selector's view included, pickles.
    again = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(again.predict(X), ours.predict(X))


@pytest.mark.parametrize(
    "selector",
    [
        FullFisherSelector(),
        InfluenceSelector(),
    ],
    ids=["full_fisher", "influence"],
)
def test_a_registered_parameter_view_serves_the_all_parameter_selectors(selector):
    X, y, y_noisy = iris_stream()
    ours = clean(RandomFeatureSoftmax(), selector, X, y, y_noisy)
    theirs = clean(as_pipeline(X.shape[1]), selector, X, y, y_noisy)
    assert len(ours.history_) > 3
    assert picks(ours) == picks(theirs)


def test_the_registered_parameter_view_is_the_pipelines():
    X, y, _ = iris_stream()
    ours = parameter_view(RandomFeatureSoftmax().fit(X, y))
    theirs = parameter_view(as_pipeline(X.shape[1]).fit(X, y))
    assert isinstance(ours, RandomFeatureParameters)
    v = np.random.RandomState(0).normal(size=ours.n_params)
    np.testing.assert_allclose(ours.parameters(), theirs.parameters())
    np.testing.assert_allclose(
        ours.gradient_dot(X, y, v), theirs.gradient_dot(X, y, v), atol=1e-10
    )
    np.testing.assert_allclose(
        ours.hvp(X, y, v, n_samples=500), theirs.hvp(X, y, v, n_samples=500), atol=1e-10
    )
    np.testing.assert_allclose(ours.hessian(X, y), theirs.hessian(X, y), atol=1e-10)


def test_the_default_selector_is_the_cleaning_selector():
    X, y, y_noisy = iris_stream(1)
    default = clean(RandomFeatureSoftmax(), None, X, y, y_noisy)
    explicit = clean(RandomFeatureSoftmax(), CleaningSelector(), X, y, y_noisy)
    assert picks(default) == picks(explicit)
    assert len(default.history_) > 0


def test_an_unregistered_family_gets_one_clear_error():
    X, y, y_noisy = iris_stream()
    cleaner = SkepticalCleaner(UnknownSoftmax(), oracle=SimulatedOracle(y))
    with pytest.raises(TypeError, match="register_last_layer_view") as info:
        cleaner.fit(X, y_noisy)
    assert "UnknownSoftmax" in str(info.value)
    assert not hasattr(cleaner, "estimator_")  # refused before any state
    full = SkepticalCleaner(
        UnknownSoftmax(), selector=FullFisherSelector(), oracle=SimulatedOracle(y)
    )
    with pytest.raises(TypeError, match="register_parameter_view"):
        full.fit(X, y_noisy)


@pytest.mark.parametrize("bad", [None, "a_function_name", 3])
def test_registering_something_not_callable_is_refused(bad):
    X, y, _ = iris_stream()
    model = UnknownSoftmax().fit(X, y)
    with pytest.raises(TypeError, match="callable"):
        register_last_layer_view(bad, random_feature_view)
    with pytest.raises(TypeError, match="callable"):
        register_last_layer_view(lambda estimator: True, bad)
    # nothing was registered: the unknown family is still unknown
    with pytest.raises(TypeError, match="register_last_layer_view"):
        last_layer_view(model)


class WrongClassesSoftmax(RandomFeatureSoftmax):
    """A family whose factory gets its classes wrong."""


def reversed_classes_view(estimator, needs="This selector"):
    # sorted and of the right length, but not the model's labels
    return LastLayerView(
        estimator.classes_ + 10,
        "softmax",
        estimator.coef_,
        estimator.intercept_,
        transform=estimator.features_,
    )


class NotAViewSoftmax(RandomFeatureSoftmax):
    """A family whose factory returns the wrong kind of object."""


def not_a_view(estimator, needs="This selector"):
    return estimator.coef_


register_last_layer_view(
    lambda e: type(e) is WrongClassesSoftmax, reversed_classes_view
)
register_last_layer_view(lambda e: type(e) is NotAViewSoftmax, not_a_view)


def test_a_view_that_does_not_match_its_model_is_refused():
    X, y, y_noisy = iris_stream()
    with pytest.raises(ValueError, match="classes_"):
        last_layer_view(WrongClassesSoftmax().fit(X, y))
    with pytest.raises(TypeError, match="not_a_view must return a LastLayerView"):
        last_layer_view(NotAViewSoftmax().fit(X, y))
    cleaner = SkepticalCleaner(WrongClassesSoftmax(), oracle=SimulatedOracle(y))
    with pytest.raises(ValueError, match="classes_"):
        cleaner.fit(X, y_noisy)
    assert not hasattr(cleaner, "history_")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(classes=[2, 0, 1]), "sorted and distinct"),
        (dict(classes=[0, 0, 1]), "sorted and distinct"),
        (dict(classes=np.array([0, "a", 1], dtype=object)), "sorted and distinct"),
        (dict(coef=np.ones((2, 4))), "3 outputs"),
        (dict(coef=np.ones(4)), "2-D"),
        (dict(intercept=np.zeros(2)), r"intercept must have shape \(3,\)"),
        (dict(link="logistic"), "1 output"),
        (dict(link="probit"), "link must be one of"),
        (dict(transform="cos"), "callable"),
    ],
)
def test_a_view_that_does_not_fit_together_is_refused(kwargs, match):
    args = dict(
        classes=[0, 1, 2],
        link="softmax",
        coef=np.ones((3, 4)),
        intercept=np.zeros(3),
        transform=None,
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LastLayerView(**args)


class BadFeaturesSoftmax(RandomFeatureSoftmax):
    """A family whose feature map drops a column."""


def bad_features_view(estimator, needs="This selector"):
    def features(X):  # a closure is fine here: nothing is pickled
        return estimator.features_(X)[:, 1:]

    return LastLayerView(
        estimator.classes_,
        "softmax",
        estimator.coef_,
        estimator.intercept_,
        transform=features,
    )


register_last_layer_view(lambda e: type(e) is BadFeaturesSoftmax, bad_features_view)


def test_features_that_do_not_match_the_weights_are_refused():
    X, y, y_noisy = iris_stream()
    view = last_layer_view(BadFeaturesSoftmax().fit(X, y))
    with pytest.raises(ValueError, match=r"must have shape \(150, 30\).*\(150, 29\)"):
        view.features(X)
    cleaner = SkepticalCleaner(BadFeaturesSoftmax(), oracle=SimulatedOracle(y))
    with pytest.raises(ValueError, match="to match coef"):
        cleaner.fit(X, y_noisy)
    assert not hasattr(cleaner, "history_")


class Fussy(ClassifierMixin, BaseEstimator):
    """A model of no known family, for a predicate that fails on it."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self


def reads_only_dicts(estimator):
    # Written for dict-like models, it fails on others; registered for good
    # (registrations last for the process), it fails on Fussy only, so that
    # other tests' models never meet it.
    if isinstance(estimator, Fussy):
        return estimator["kind"] == "dict-model"
    return False


register_last_layer_view(reads_only_dicts, random_feature_view)


def test_a_failing_predicate_is_named():
    with pytest.raises(TypeError, match="reads_only_dicts.*failed on a Fussy"):
        last_layer_view(Fussy().fit([[0.0], [1.0]], [0, 1]))
