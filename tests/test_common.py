"""scikit-learn conformance: check_estimator on three configurations.

Pipelines, cross-validation, grid search and clone are tested in
test_cleaner.py.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_cincer import SkepticalCleaner


def _instances():
    return [
        SkepticalCleaner(LogisticRegression(), n_bootstrap=20),
        SkepticalCleaner(
            LogisticRegression(),
            n_bootstrap=0.5,
            counter_examples="drop",
            refit="incremental",
            threshold=0.0,
        ),
        SkepticalCleaner(
            MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0),
            n_bootstrap=0.8,
            refit="incremental",
        ),
    ]


@parametrize_with_checks(_instances())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
