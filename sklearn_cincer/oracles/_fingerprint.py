"""Fingerprints: what an example, a question and a run of the cleaner are.

A store keys each question by a fingerprint of the two examples' features,
and records with each run a fingerprint of the data and of the settings that
decide which questions come, so that an answer is never replayed onto another
example, nor into a run that would not have asked it.
"""

import hashlib
import json
import numbers

import numpy as np

from ._base import plain

# Parameters of the cleaner that do not decide which questions come.
_NOT_DECISIVE = frozenset({"oracle", "verbose", "n_jobs", "n_threads"})

# Parameters added after stores existed, with their defaults: left out of a
# run's fingerprint at the default, so that a store written before them
# (whose fingerprint lacks them) still matches a run that leaves them be.
_ADDED_LATER = {"n_counter_examples": 1, "refit_every": 1}


def array_fingerprint(values):
    """SHA-256 (hex) of an array's values, whatever their dtype and layout.

    Numbers are hashed as little-endian float64 in C order (so ``1``, ``1.0``
    and ``np.float32(1)`` are the same example; ``-0.0`` is ``0.0``), other
    values by their JSON text; the shape is part of the hash.
    """
    a = np.asarray(values)
    digest = hashlib.sha256(repr(a.shape).encode())
    if a.dtype.kind in "biuf":
        digest.update(b"f8")
        digest.update(np.ascontiguousarray(a, dtype="<f8").ravel() + 0.0)
    else:
        digest.update(b"json")
        digest.update(json.dumps([plain(v) for v in a.ravel()], default=repr).encode())
    return digest.hexdigest()


def describe(value):
    """A JSON-able description of a parameter that is equal across processes."""
    value = plain(value)
    if value is None or isinstance(value, (bool, str, numbers.Number)):
        return value
    if hasattr(value, "get_params") and isinstance(value, type) is False:
        params = value.get_params(deep=False)
        return {
            "class": _qualname(type(value)),
            "params": {k: describe(v) for k, v in sorted(params.items())},
        }
    if isinstance(value, np.ndarray):
        return f"array{value.shape} sha256:{array_fingerprint(value)[:16]}"
    if isinstance(value, np.random.RandomState):
        state = value.get_state()
        return f"RandomState sha256:{array_fingerprint(state[1])[:16]}@{state[2]}"
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): describe(v) for k, v in sorted(value.items(), key=str)}
    if callable(value) and hasattr(value, "__qualname__"):
        return _qualname(value)
    text = repr(value)
    # a default repr holds a memory address, different in every process
    return _qualname(type(value)) if " at 0x" in text else text


def _qualname(obj):
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"


def run_fingerprint(cleaner, X, y):
    """What decides a run's questions: the cleaner's settings and its data."""
    params = cleaner.get_params(deep=False)
    return {
        "params": {
            k: describe(v)
            for k, v in sorted(params.items())
            if k not in _NOT_DECISIVE
            and not (k in _ADDED_LATER and _ADDED_LATER[k] == v)
        },
        "data": {
            "n_samples": int(np.shape(X)[0]),
            "X": array_fingerprint(X),
            "y": array_fingerprint(y),
        },
    }


def differences(stored, current, prefix=""):
    """Readable lines ``what: <stored> in the store, <current> now``."""
    if isinstance(stored, dict) and isinstance(current, dict):
        if "class" in stored and stored.get("class") != current.get("class"):
            return [
                f"{prefix.rstrip('.')}: {stored['class']} in the store, "
                f"{current.get('class')} now"
            ]
        lines = []
        for key in sorted(set(stored) | set(current)):
            if key == "class":
                continue
            sub = prefix if key == "params" else f"{prefix}{key}."
            lines += differences(stored.get(key), current.get(key), sub)
        return lines
    if stored == current:
        return []
    return [
        f"{prefix.rstrip('.')}: {_short(stored)} in the store, {_short(current)} now"
    ]


def _short(value):
    text = repr(value) if not isinstance(value, dict) else json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
