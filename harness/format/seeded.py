"""Seeded initial parameters and generated data, made once in float64 with NumPy."""
from __future__ import annotations

import numpy as np


def init_tensor(scheme: str, settings: dict[str, float], shape: tuple[int, ...],
                fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one tensor. ``rng`` is its own stream, so one tensor given explicitly moves no other."""
    if scheme == "zeros":
        return np.zeros(shape)
    if scheme == "xavier_uniform":
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape)
    if scheme == "xavier_normal":
        return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)
    if scheme == "he_normal":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    if scheme == "normal":
        return rng.normal(settings.get("mean", 0.0), settings["std"], shape)
    if scheme == "uniform":
        return rng.uniform(settings["low"], settings["high"], shape)
    raise ValueError(f"unknown init scheme {scheme!r}")  # the loader checks names first


def tensor_rng(seed: int, layer: int, kind: str) -> np.random.Generator:
    """One stream per tensor: [seed, layer, 0] for a weight, [seed, layer, 1] for a bias."""
    return np.random.default_rng([seed, layer, 0 if kind == "weight" else 1])


def random_data(kind: str, settings: dict[str, float], shape: tuple[int, ...], seed: int,
                classes: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(settings.get("mean", 0.0), settings.get("std", 1.0), shape)
    if kind == "uniform":
        return rng.uniform(settings.get("low", 0.0), settings.get("high", 1.0), shape)
    if kind == "bernoulli":
        return (rng.random(shape) < settings.get("p", 0.5)).astype(np.float64)
    if kind == "classes":
        return rng.integers(0, classes, shape).astype(np.int64)
    if kind == "simplex":
        return rng.dirichlet(np.ones(classes), shape[0])
    if kind == "onehot":
        return np.eye(classes)[rng.integers(0, classes, shape[0])]
    raise ValueError(f"unknown random data kind {kind!r}")
