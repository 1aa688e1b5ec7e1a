"""The numpy core: the Fisher math and the views of a model it reads.

``fisher_math`` (gradients, Fisher blocks, factors and solves),
``last_layer`` (a classifier's last layer: features, outputs, link),
``parameter_views`` (every parameter of a model, for the all-parameter
selectors), ``view_registry`` (how a model family registers its views) and
``dask_passes`` (the same passes over Dask arrays). It imports nothing of
the rest of the package; the public way in is :mod:`sklearn_cincer.extend`.
"""
