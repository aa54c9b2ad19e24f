"""Gradient conformance harness: one declarative training step, run through every framework.

Public API: :func:`harness.loader.load_cases`, :func:`harness.runner.run_case`, the adapter
interface in :mod:`harness.adapters.base`, and the comparator in :mod:`harness.compare`.
"""
__version__ = "0.1.0"
