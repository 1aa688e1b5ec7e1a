"""scikit-learn conformance: check_estimator, clone, pipelines, cross-validation."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_cincer import SkepticalCleaner, TopFisherSelector


def _instances():
    return [
        SkepticalCleaner(LogisticRegression(), n_bootstrap=20),
        SkepticalCleaner(
            LogisticRegression(), n_bootstrap=0.5, counter_examples="drop",
            refit="incremental", threshold=0.0,
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
