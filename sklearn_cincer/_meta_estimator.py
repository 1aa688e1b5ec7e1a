"""What the cleaner and the auditor share as meta-estimators.

Both wrap a classifier, fit it on labels their oracle cleans, and predict
with it: the same input policy (missing values), the same guarantees of a
fitting call (a failure leaves the estimator as it was, threads limited,
one seed for the whole run) and the same prediction methods.
"""

import functools
import warnings

import numpy as np
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ._threads import limit_threads

_MAX_SEED = np.iinfo(np.int32).max


def nan_policy(estimator):
    """``ensure_all_finite``: missing values (NaN) are let in when the
    estimator takes them (a ``Pipeline`` that imputes first,
    ``HistGradientBoostingClassifier``); a row with every value missing is
    then never offered as a counter-example."""
    return "allow-nan" if takes_nan(estimator) else True


def takes_nan(estimator):
    """Whether ``estimator`` says (by its ``allow_nan`` tag) it takes NaN.

    A ``Pipeline`` takes what its first step takes (an imputer), which its
    own tag does not say.
    """
    steps = [
        step
        for _, step in getattr(estimator, "steps", [])
        if step not in (None, "passthrough")
    ]
    if steps:
        return takes_nan(steps[0])
    try:
        return bool(get_tags(estimator).input_tags.allow_nan)
    except Exception:  # an estimator without scikit-learn's tags
        return False


def column_std(X, chunk=4096):
    """``X.std(axis=0)`` without a temporary the size of ``X``.

    Missing values (NaN, where the estimator takes them) are left out of
    their column's count; a column with no value at all has no spread (NaN).
    """
    mean = X.mean(axis=0, dtype=float)
    if np.isnan(mean).any():  # a NaN in X makes its column's mean NaN
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty column
            return np.nanstd(X, axis=0)
    squares = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], chunk):
        centered = X[start : start + chunk] - mean
        squares += np.einsum("ij,ij->j", centered, centered)
    return np.sqrt(squares / max(1, X.shape[0]))


def unchanged_on_error(method):
    """Undo everything a failing call did to the cleaner's attributes.

    The loop works on a copy of the state and publishes it only at the end,
    so this only has to restore what input validation set early
    (``n_features_in_``, ``feature_names_in_``) and what a half-finished
    publication would leave.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return wrapper


def thread_limited(method):
    """Run a fitting method under the cleaner's ``n_threads`` limit."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with limit_threads(self.n_threads):
            return method(self, *args, **kwargs)

    return wrapper


def estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


def seed_unset_random_states(obj, rng):
    """Give every ``*random_state`` parameter left at None a seed from ``rng``.

    So that refits from scratch start from the same initial weights every
    round (as the paper does) and one cleaner seed fixes the whole run.
    """
    params = obj.get_params(deep=True)
    seeds = {
        key: int(rng.randint(_MAX_SEED))
        for key in sorted(params)
        if (key == "random_state" or key.endswith("__random_state"))
        and params[key] is None
    }
    if seeds:
        obj.set_params(**seeds)
    return obj


class CleanedClassifierMixin:
    """Prediction of a meta-estimator with the classifier fit on cleaned labels.

    The fitted classifier is ``estimator_``; ``classes_`` are the labels of
    the data, which the cleaned labels may have lost one of (its
    probability column is then zero).
    """

    def _proba(self, estimator, X, classes):
        """``predict_proba`` with one column per class of the cleaner.

        The model may not know every class yet (one missing from the
        bootstrap set): its missing columns are zero.
        """
        proba = estimator.predict_proba(X)
        known = np.asarray(estimator.classes_)
        if known.shape[0] == classes.shape[0] and np.array_equal(known, classes):
            return proba
        full = np.zeros((proba.shape[0], classes.shape[0]))
        full[:, np.searchsorted(classes, known)] = proba
        return full

    @available_if(estimator_has("predict"))
    def predict(self, X):
        """Predict with the classifier fit on the cleaned training set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, ensure_all_finite=nan_policy(self.estimator)
        )
        return self.estimator_.predict(X)

    @available_if(estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, one column per class of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, ensure_all_finite=nan_policy(self.estimator)
        )
        return self._proba(self.estimator_, X, self.classes_)

    @available_if(estimator_has("predict_proba"))
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @available_if(estimator_has("decision_function"))
    def decision_function(self, X):
        """The wrapped classifier's ``decision_function``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, ensure_all_finite=nan_policy(self.estimator)
        )
        return self.estimator_.decision_function(X)
