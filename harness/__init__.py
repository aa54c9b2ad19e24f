"""Gradient conformance harness: one declarative training step, run through every framework.

Public API: :func:`harness.format.loader.load_cases`, :func:`harness.running.runner.run_case`, the adapter
interface in :mod:`harness.adapters.base`, and the comparator in :mod:`harness.verdicts.compare`.
"""
__version__ = "0.1.0"
