"""The initial parameters of a case: explicit tensors, init schemes and seeds, and the sizes the
network asks for, checked against the limits before anything is drawn."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import catalog
from .case import Layer, bias_name, param_shapes, weight_name
from .seeded import init_tensor, tensor_rng
from .problems import Checker, kind_of, layout_text, shape_text


class Parameters(Checker):
    """Initial parameters: explicit tensors, then the init schemes for the rest."""

    def initial_params(self, explicit: Any, init: Any, layers: tuple[Layer, ...],
                       features: int) -> dict[str, np.ndarray] | None:
        fans = [(features if i == 0 else layers[i - 1].units, layer.units)
                for i, layer in enumerate(layers)]
        shapes = param_shapes([layer.units for layer in layers], features)
        given = {}
        if self.mapping(explicit, ("params",), shapes) is not None:
            for key, value in explicit.items():
                if key in shapes:
                    arr = self.array(value, ("params", key), shapes[key], layout_text(key))
                    if arr is not None:
                        given[key] = arr
        weight, bias = self.init_spec(init)
        if weight is None:
            return None
        params = {}
        for i, (fan_in, units) in enumerate(fans):
            for kind, (scheme, settings, seed) in (("weight", weight), ("bias", bias)):
                key = weight_name(i) if kind == "weight" else bias_name(i)
                params[key] = given.get(key)
                if params[key] is None:
                    params[key] = init_tensor(scheme, settings, shapes[key], fan_in, units,
                                              tensor_rng(seed, i, kind))
        return params

    def init_spec(self, value: Any):
        """((scheme, settings, seed) for weights, the same for biases); defaults apply."""
        if value is None:
            value = {"scheme": "xavier_uniform", "seed": 0}
        path = ("init",)
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping like {{scheme: xavier_uniform, seed: 0}}, "
                               f"found {kind_of(value)}")
            return None, None
        weight = self.scheme(value, path, extra=("seed", "bias"), seed=None)
        if weight is None:
            return None, None
        seed = weight[2]
        bias_value = value.get("bias", "zeros")
        if isinstance(bias_value, str):
            bias_value = {"scheme": bias_value}
        bias = self.scheme(bias_value, path + ("bias",), extra=(), seed=seed)
        return (weight, bias) if bias else (None, None)

    def scheme(self, value: Any, path: tuple, extra: tuple, seed: int | None):
        if not isinstance(value, dict):
            self.problem(path, f"expected a scheme name or mapping, found {kind_of(value)}")
            return None
        name = self.choice(value.get("scheme"), path + ("scheme",), catalog.INIT_SCHEMES,
                           "init scheme", "scheme" in value)
        if name is None:
            if "scheme" not in value:  # {name: glorot_uniform}: its keys say what was meant
                self.mapping(value, path, ["scheme", *{k: 0 for s in catalog.INIT_SCHEMES.values()
                                                       for k in s}, *extra])
            return None
        spec = catalog.INIT_SCHEMES[name]
        required = [k for k, d in spec.items() if d is None] + (["seed"] if seed is None else [])
        if self.mapping(value, path, ["scheme", *spec, *extra], required) is None:
            return None
        if seed is None and "seed" in value:
            seed = self.integer(value["seed"], path + ("seed",), minimum=0)
        ok = seed is not None and all(k in value for k in required)
        settings = {}
        for key, default in spec.items():
            if key not in value and default is None:
                continue  # a missing required key is already a problem
            number = self.draw_setting(value.get(key, default), path + (key,), key)
            ok = ok and number is not None
            settings[key] = number
        if ok and name == "uniform" and settings["low"] >= settings["high"]:
            self.problem(path, f"expected low < high, found {settings['low']} ≥ {settings['high']}")
            ok = False
        if not ok:
            return None
        return name, settings, seed

    def network_size(self, layers: tuple[Layer, ...], x_shape: tuple[int, ...]) -> bool:
        """Whether the network fed ``x`` is within the limits, worked out from the shapes alone
        before any parameter is drawn: each weight, each layer's output, all the parameters."""
        batch, features = x_shape
        ok, total = True, 0
        for i, layer in enumerate(layers):
            fan_in = features if i == 0 else layers[i - 1].units
            total += layer.units * fan_in + layer.units
            if ok:  # one tensor over the limit is said once, not once per layer
                where = ("network", i, "units")
                ok = self.within(where, "max_tensor_elements", layer.units * fan_in,
                                 "elements per tensor",
                                 f" in {weight_name(i)} {shape_text((layer.units, fan_in))}") and \
                    self.within(where, "max_tensor_elements", batch * layer.units,
                                "elements per tensor", f" in layer {i}'s output "
                                f"{shape_text((batch, layer.units))} (batch, units)")
        return self.within(("network",), "max_parameters", total,
                           "parameters (weights and biases together)") and ok

