"""Finite differences of the reference's forward pass: an oracle that needs no autograd to be right.

For each sampled parameter element, central differences of the loss in float64 at steps h and h/2
(h = cbrt(eps)·max(1, |p|)), combined by Richardson extrapolation. Each estimate carries its own
error bound, truncation (from the two steps' disagreement) plus rounding (eps·|loss|/h), which
becomes the tolerance of its comparison, so a correct case passes and a derivative bug fails.

At a kink (relu at 0, hardtanh's edges, l1 at 0, huber's switch) a central difference returns the
average of the two one-sided slopes, which no framework computes: an element whose perturbation
moves any pre-activation or loss residual across a kink is inconclusive, not a failure.
"""
from __future__ import annotations

import zlib

import numpy as np

from ..format import catalog
from ..adapters import numpy_ref
from ..format.case import Case

EPS = float(np.finfo(np.float64).eps)
H0 = EPS ** (1 / 3)  # the step that balances truncation and rounding for central differences
ROUNDING_FACTOR = 16.0  # the loss is a sum: its rounding error is a few eps of its terms



def sample_indices(case: Case, name: str, size: int) -> np.ndarray:
    """Every element of a small tensor; a seeded, sorted sample of a large one."""
    samples = case.finite_differences["samples"]
    if size <= samples:
        return np.arange(size)
    rng = np.random.default_rng([zlib.crc32(f"{case.name}/{name}".encode()), size])
    return np.sort(rng.choice(size, samples, replace=False))


class Loss:
    """The reference loss in float64, and which side of every kink each quantity is on."""

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray | None):
        self.case, self.x, self.y = case, x, y
        # where each activation's derivative jumps, in z, and the loss's, in d = out − y
        kinks = [(i, catalog.ACTIVATIONS[l.activation].kinks(l.settings))
                 for i, l in enumerate(case.layers)]
        self.kinked_layers = [(i, points) for i, points in kinks if points]
        self.loss_kinks = catalog.LOSSES[case.loss].kinks(case.loss_settings)

    def __call__(self, params: dict[str, np.ndarray]) -> tuple[float, list[np.ndarray]]:
        out, cache = numpy_ref.forward(self.case, params, self.x)
        loss, _ = numpy_ref.loss_and_grad(self.case.loss, out, self.y, self.case.loss_settings)
        sides = [np.sign(cache[i][1] - k) for i, kinks in self.kinked_layers for k in kinks]
        if self.loss_kinks:
            d = out - self.y
            sides += [np.sign(d - k) for k in self.loss_kinks]
        return float(loss), sides

    def gradient(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out, cache = numpy_ref.forward(self.case, params, self.x)
        _, upstream = numpy_ref.loss_and_grad(self.case.loss, out, self.y, self.case.loss_settings)
        return numpy_ref.backward(self.case, params, cache, upstream)


def richardson(wide: np.ndarray, narrow: np.ndarray, richardson: bool):
    """(estimate, truncation bound) from central differences at h and h/2."""
    truncation = np.abs(narrow - wide) / 3  # the h/2 estimate's O(h²) error
    estimate = (4 * narrow - wide) / 3 if richardson else narrow
    return estimate, 2 * truncation


def gradient(case: Case, params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray | None,
             name: str, indices: np.ndarray):
    """(estimates, error bounds, inconclusive mask) for the sampled elements of one tensor."""
    loss = Loss(case, x, y)
    params = {k: v.astype(np.float64, copy=True) for k, v in params.items()}
    tensor = params[name].reshape(-1)  # a view: perturbations write through
    estimates, errors, inconclusive = [], [], []
    with np.errstate(all="ignore"):  # saturated cases make inf and NaN on purpose
        base, base_sides = loss(params)
        for j in indices:
            original = tensor[j]
            h = H0 * max(1.0, abs(original))
            values, crossed = {}, False
            for t in (h, -h, h / 2, -h / 2):
                tensor[j] = original + t
                values[t], sides = loss(params)
                crossed = crossed or any(np.any(a != b) for a, b in zip(sides, base_sides))
            tensor[j] = original
            wide = (values[h] - values[-h]) / (2 * h)
            narrow = (values[h / 2] - values[-h / 2]) / h
            estimate, truncation = richardson(np.array(wide), np.array(narrow),
                                               case.finite_differences["richardson"])
            magnitude = max(abs(base), *(abs(v) for v in values.values()))
            estimates.append(float(estimate))
            errors.append(float(truncation) + ROUNDING_FACTOR * EPS * magnitude / h)
            inconclusive.append(crossed)  # a quantity at a kink moves off it: sign 0 → ±1
    return np.array(estimates), np.array(errors), np.array(inconclusive, dtype=bool)


def hessian_vector(case: Case, params: dict[str, np.ndarray], x: np.ndarray,
                   y: np.ndarray | None, vector: dict[str, np.ndarray]):
    """(H·v, error bounds) by central differences of the reference gradient along v."""
    loss = Loss(case, x, y)
    params = {k: v.astype(np.float64) for k, v in params.items()}
    scale = max(1.0, max(float(np.abs(p).max()) for p in params.values()))
    h = H0 * scale / max(float(np.abs(v).max()) for v in vector.values())

    def grad_at(t: float) -> dict[str, np.ndarray]:
        return loss.gradient({k: p + t * vector[k] for k, p in params.items()})

    with np.errstate(all="ignore"):
        plus, minus, plus2, minus2 = grad_at(h), grad_at(-h), grad_at(h / 2), grad_at(-h / 2)
        out, err = {}, {}
        for k in params:
            wide = (plus[k] - minus[k]) / (2 * h)
            narrow = (plus2[k] - minus2[k]) / h
            out[k], truncation = richardson(wide, narrow, case.finite_differences["richardson"])
            magnitude = max(float(np.abs(g[k]).max()) for g in (plus, minus, plus2, minus2))
            err[k] = truncation + ROUNDING_FACTOR * EPS * magnitude / h
    return out, err


def direction(case: Case, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The seeded direction v of Hessian-vector products: one normal draw per tensor."""
    return {k: np.random.default_rng([zlib.crc32(f"{case.name}/hvp/{k}".encode())])
            .normal(size=v.shape) for k, v in params.items()}
