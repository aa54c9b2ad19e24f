"""One parser per section of a case file: name, network, loss, optimizer, tolerance, known
discrepancies, initial parameters, golden values, and the rest."""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import catalog
from .parties import ALL, SEPARATOR, bound, canonical, kind, parts
from .case import (FD_DEFAULTS, TOLERANCE_KEYS, Expected, KnownDiscrepancy, Layer, OptimizerSpec,
                   param_shapes)
from .yamlsafe import format_path, quoted
from .problems import Checker, kind_of, layout_text
from .versions import EXAMPLE, parse_range

KNOWN_KEYS = ("framework", "device", "quantity", "tensor", "dtype", "reason", "link", "steps",
              "from_step", "versions")
# the largest value of a tolerance key: an atol or rtol beyond a million accepts any value
# (2**63 written as an atol is a mistake, not a tolerance)
TOLERANCE_MAX = 1e6
KNOWN_DEVICES = ("cpu", "gpu", "cuda")  # gpu and cuda are one (harness.running.devices.kind)
GRADIENT_ROWS = "a gradient is written like its weight, (units, fan_in), one row per unit"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+~-]*")  # fullmatch: $ allows a final newline


class Sections(Checker):
    def case_name(self, top: dict) -> str:
        name = top.get("name", Path(self.file).stem)
        if self.string(name, ("name",)) is not None and not _NAME.fullmatch(name):
            self.problem(("name",), f"expected one line of letters, digits and _ . + ~ - (it "
                                    f"becomes a test id), found {quoted(name)}")
        return name if isinstance(name, str) else Path(self.file).stem

    def tags(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            self.problem(("tags",), f"expected a list of strings, found {kind_of(value)}")
            return ()
        return tuple(value)

    def dtypes(self, value: Any) -> tuple[str, ...] | None:
        values = value if isinstance(value, list) else [value]
        if not values:
            self.problem(("dtype",), "expected a dtype or a non-empty list of dtypes")
            return None
        path = lambda i: ("dtype", i) if isinstance(value, list) else ("dtype",)  # noqa: E731
        chosen = [self.choice(v, path(i), catalog.DTYPES, "dtype") for i, v in enumerate(values)]
        if None in chosen:
            return None
        if len(set(chosen)) != len(chosen):
            self.problem(("dtype",), f"a dtype is listed twice: {chosen}")
            return None
        return tuple(chosen)

    def network(self, value: Any) -> tuple[Layer, ...] | None:
        if not isinstance(value, list) or not value:  # null or empty too: a case needs layers
            self.problem(("network",), f"expected a non-empty list of layers like "
                                       f"{{units: 4, activation: tanh}}, found {kind_of(value)}")
            return None
        if not self.within(("network",), "max_layers", len(value), "layers"):
            return None
        layers = []
        for i, spec in enumerate(value):
            path = ("network", i)
            spec = self.mapping(spec, path, ("units", "activation"), ("units", "activation"))
            if spec is None or "units" not in spec or "activation" not in spec:
                layers.append(None)
                continue
            units = self.integer(spec["units"], path + ("units",), minimum=1)
            named = self.named(spec["activation"], path + ("activation",), catalog.ACTIVATIONS,
                               "activation")
            layers.append(Layer(units, *named) if units and named else None)
        return None if None in layers else tuple(layers)

    def named(self, value: Any, path: tuple, table: dict[str, catalog.Entry],
              what: str) -> tuple[str, dict] | None:
        """A catalog entry written as a name, or as {name: …, setting: value, …}."""
        if isinstance(value, dict):
            name = self.choice(value.get("name"), path + ("name",), table, what,
                               "name" in value)
            if name is None:
                if "name" not in value:  # {type: adam, …}: its keys say what was meant
                    self.mapping(value, path, ["name", *{k: 0 for e in table.values()
                                                         for k in e.settings}])
                return None
            settings = self.settings(table[name], value, path)
            return None if settings is None else (name, settings)
        name = self.choice(value, path, table, what)
        if name is None:
            return None
        missing = table[name].required
        if missing:
            self.problem(path, f"{what} {name!r} needs {', '.join(missing)}: write it as "
                               f"{{name: {name}, {missing[0]}: …}}")
            return None
        return name, table[name].defaults()

    def settings(self, entry: catalog.Entry, value: dict, path: tuple) -> dict | None:
        """Every setting of one catalog entry, typed by its default and checked by its rule."""
        self.mapping(value, path, ["name", *entry.settings], entry.required, entry.name)
        out, ok = {}, all(k in value for k in entry.required)
        for key, setting in entry.settings.items():
            if key not in value:
                out[key] = setting.default
                continue
            given, where = value[key], path + (key,)
            if setting.kind == "boolean":
                if not isinstance(given, bool):
                    self.problem(where, f"expected true or false, found {kind_of(given)}")
                    ok = False
                out[key] = given
            elif setting.kind == "choice":
                ok = self.choice(given, where, setting.choices, key) is not None and ok
                out[key] = given
            else:
                number = self.number(given, where)
                problem = None if number is None else setting.problem(number)
                if problem:
                    self.problem(where, problem)
                    number = None
                ok = number is not None and ok
                out[key] = number
        broken = entry.constraint(out) if ok and entry.constraint else None
        if broken:
            key, message = broken
            self.problem(path + ((key,) if key else ()), message)
            ok = False
        return out if ok else None

    def optimizer(self, value: Any) -> OptimizerSpec | None:
        if not isinstance(value, dict):
            self.problem(("optimizer",), f"expected a mapping like {{name: sgd, lr: 0.1}}, "
                                         f"found {kind_of(value)}")
            return None
        named = self.named(value, ("optimizer",), catalog.OPTIMIZERS, "optimizer")
        return None if named is None else OptimizerSpec(*named)

    def loss_spec(self, value: Any) -> tuple[str, dict] | None:
        return self.named(value, ("loss",), catalog.LOSSES, "loss")

    def framework_list(self, value: Any) -> tuple[str, ...] | None:
        """None for every framework; else the names listed. ``all`` in a list stands for every
        framework, beside the modes and devices listed with it: [all, torch+compile]."""
        if value == ALL:
            return None
        if not isinstance(value, list) or not value:
            self.problem(("frameworks",), f"expected 'all' or a list of framework names, found "
                                          f"{kind_of(value)}")
            return None
        names = [v if v == ALL else self.framework_name(v, ("frameworks", i), self.frameworks)
                 for i, v in enumerate(value)]
        return tuple(dict.fromkeys(n for n in names if n))

    def framework_name(self, value: Any, path: tuple, valid: list[str]) -> str | None:
        """A framework name. One that is not installed here (a plug-in) is accepted with a
        warning, so a shared case still loads; one that looks like a typo is an error. A name
        with a device (torch@cuda, harness.format.parties) must name a framework and device that go
        together; jax@cuda becomes jax@gpu."""
        if isinstance(value, str) and bound(value):
            trouble = self.parties.problem(value)
            if trouble:
                self.problem(path, f"expected a framework, a framework+mode or a "
                                   f"framework@device: {trouble}")
                return None
            return canonical(value)
        if isinstance(value, str) and value not in self.frameworks and _NAME.fullmatch(value) and \
                not difflib.get_close_matches(value, valid, n=1, cutoff=0.6):
            self.warnings.append(f"{format_path(path)}: framework {value!r} is not installed "
                                 f"here ({', '.join(valid)}); it applies where it is")
            return value
        return self.choice(value, path, valid, "framework")

    def tolerance(self, value: Any) -> tuple[dict, dict]:
        """({dtype: overrides}, {framework: {dtype: overrides}}).

        Overrides are flat ({atol, rtol, scale_rtol}) or per dtype ({float32: {…}}); under
        ``frameworks:``, each framework's overrides take the same two forms.
        """
        path = ("tolerance",)
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping of {', '.join(TOLERANCE_KEYS)}, "
                               f"found {kind_of(value)}")
            return {}, {}
        rest = {k: v for k, v in value.items() if k != "frameworks"}
        per_framework = {}
        if "frameworks" in value:
            given = value["frameworks"]
            if not isinstance(given, dict):
                self.problem(path + ("frameworks",), f"expected a mapping of framework names "
                                                     f"to tolerances, found {kind_of(given)}")
            else:
                for name, spec in given.items():
                    where = path + ("frameworks", name)
                    if self.framework_name(name, where, self.frameworks):
                        per_framework[name] = self.overrides(spec, where)
        return self.overrides(rest, path), per_framework

    def overrides(self, value: Any, path: tuple) -> dict[str, dict[str, float]]:
        if isinstance(value, dict) and value and all(k in catalog.DTYPES for k in value):
            return {dt: self.tolerance_keys(v, path + (dt,)) for dt, v in value.items()}
        flat = self.tolerance_keys(value, path)
        return {dt: flat for dt in catalog.DTYPES} if flat else {}

    def orders(self, value: Any) -> tuple[int, ...]:
        if value not in ([1], [1, 2], [2, 1]):
            found = kind_of(value)
            if isinstance(value, list):
                found = f"[{', '.join(kind_of(v) for v in value[:3])}" \
                        f"{', …' if len(value) > 3 else ''}]"
            self.problem(("orders",), f"expected [1] or [1, 2] (2 adds Hessian-vector products), "
                                      f"found {found}")
            return (1,)
        return tuple(sorted(value))

    def finite_differences(self, value: Any) -> dict:
        if self.mapping(value, ("finite_differences",), FD_DEFAULTS) is None:
            return dict(FD_DEFAULTS)
        out = dict(FD_DEFAULTS)
        if "samples" in value:
            out["samples"] = self.integer(value["samples"], ("finite_differences", "samples"),
                                          minimum=1) or FD_DEFAULTS["samples"]
        if "richardson" in value:
            if not isinstance(value["richardson"], bool):
                self.problem(("finite_differences", "richardson"),
                             f"expected true or false, found {kind_of(value['richardson'])}")
            else:
                out["richardson"] = value["richardson"]
        return out

    def known_discrepancies(self, value: Any, dtypes: Iterable[str]):
        """Declared differences, each naming one framework and a quantity or tensor."""
        path = ("known_discrepancies",)
        if not isinstance(value, list):
            self.problem(path, f"expected a list of {{framework, quantity or tensor, reason}}, "
                               f"found {kind_of(value)}")
            return ()
        out = []
        for i, spec in enumerate(value):
            where = path + (i,)
            if self.mapping(spec, where, KNOWN_KEYS, ("framework", "reason")) is None:
                continue
            framework = self.framework_name(spec["framework"], where + ("framework",),
                                            [n for n in self.frameworks if n != "numpy"]) \
                if "framework" in spec else None
            device = self.known_device(spec, framework, where)
            mode = None
            if framework and bound(framework):  # torch+compile@cuda: framework, mode, device
                framework, mode, named = parts(framework)
                device = kind(named) if named is not None else device
            quantity = self.choice(spec["quantity"], where + ("quantity",), catalog.QUANTITIES,
                                   "quantity") if "quantity" in spec else None
            tensor = self.string(spec["tensor"], where + ("tensor",)) if "tensor" in spec else None
            dtype = self.choice(spec["dtype"], where + ("dtype",), list(dtypes), "dtype of this "
                                "case") if "dtype" in spec else None
            reason = self.string(spec.get("reason"), where + ("reason",)) \
                if "reason" in spec else None
            link = self.string(spec["link"], where + ("link",)) if "link" in spec else None
            steps = self.known_steps(spec.get("steps"), where + ("steps",)) \
                if "steps" in spec else None
            from_step = self.integer(spec["from_step"], where + ("from_step",), minimum=1) \
                if "from_step" in spec else None
            versions = self.known_versions(spec["versions"], where + ("versions",), framework) \
                if "versions" in spec else None
            if quantity is None and tensor in (None, "*", "**"):
                if "quantity" not in spec:
                    self.problem(where, "a known discrepancy names a quantity or a tensor; none "
                                        "may cover a whole case")
                continue
            if reason is not None and not reason.strip():
                self.problem(where + ("reason",), "expected the cause of the difference, found "
                                                  "an empty string")
                continue
            if framework and reason and ("versions" not in spec or versions):
                out.append(KnownDiscrepancy(framework, reason.strip(), quantity, tensor, dtype,
                                            link, steps, from_step, device, mode, versions,
                                            self.doc.line(where)))
        return tuple(out)

    def known_versions(self, value: Any, path: tuple, framework: str | None):
        """``versions: "torch<2.15"``: the versions a declaration holds for (a package, the
        declaration's framework when it names none, and comparisons; harness.format.versions)."""
        found, wrong = parse_range(value)
        if wrong:
            self.problem(path, f"expected a version range like {EXAMPLE}, found "
                               f"{quoted(value) if isinstance(value, str) else kind_of(value)}: "
                               f"{wrong}")
            return None
        return found.named(parts(framework)[0]) if framework else found

    def known_device(self, spec: dict, framework: str | None, where: tuple) -> str | None:
        """``device: cpu | gpu | cuda``: the declaration holds on that device only."""
        if "device" not in spec:
            return None
        device = self.choice(spec["device"], where + ("device",), KNOWN_DEVICES, "device")
        if device and framework and SEPARATOR in framework:
            self.problem(where + ("device",), f"the framework {framework!r} already names its "
                                              "device; give one or the other")
            return None
        return kind(device)

    def known_steps(self, value: Any, path: tuple) -> tuple[int, ...] | None:
        """The steps a known discrepancy is limited to: a list of step numbers (1-based)."""
        if not isinstance(value, list) or not value:
            self.problem(path, "expected a list of step numbers like [2, 3], "
                               f"found {kind_of(value)}")
            return None
        steps = [self.integer(v, path + (i,), minimum=1) for i, v in enumerate(value)]
        return None if None in steps else tuple(steps)

    def tolerance_keys(self, value: Any, path: tuple) -> dict[str, float]:
        if self.mapping(value, path, TOLERANCE_KEYS) is None:
            return {}
        out = {}
        for key in TOLERANCE_KEYS:
            if key in value:
                number = self.number(value[key], path + (key,), nonnegative=True)
                if number is not None and number > TOLERANCE_MAX:
                    self.problem(path + (key,), f"expected a number in [0, {TOLERANCE_MAX:g}], "
                                                f"found {number:g}: a tolerance that large "
                                                "accepts any value")
                elif number is not None:
                    out[key] = number
        return out


    # -- golden values ---------------------------------------------------------------------
    def expected(self, value: Any, layers: tuple[Layer, ...], x_shape: tuple[int, ...]):
        path = ("expected",)
        if self.mapping(value, path, ("output", "loss", "grads", "params", "tolerance")) is None:
            return None
        batch, features = x_shape
        shapes = param_shapes([layer.units for layer in layers], features)
        out = {}
        if "output" in value:
            out["output"] = self.array(value["output"], path + ("output",),
                                       (batch, layers[-1].units), " (batch, units)")
        if "loss" in value:
            loss = self.number(value["loss"], path + ("loss",))
            out["loss"] = None if loss is None else np.array(loss)
        for group in ("grads", "params"):
            if group in value and self.mapping(value[group], path + (group,), shapes) is not None:
                rows = GRADIENT_ROWS if group == "grads" else None
                out[group] = {k: self.array(v, path + (group, k), shapes[k], layout_text(k),
                                            rows) for k, v in value[group].items() if k in shapes}
        tolerance = self.tolerance_keys(value["tolerance"], path + ("tolerance",)) \
            if "tolerance" in value else {}
        return Expected(output=out.get("output"), loss=out.get("loss"),
                        grads=out.get("grads", {}), params=out.get("params", {}),
                        tolerance=tolerance)

    def loss_warnings(self, loss: str, last: str) -> None:
        if loss == "kl_div" and last != "log_softmax":
            self.warnings.append(f"loss 'kl_div' takes log-probabilities; the last layer is "
                                 f"{last}, not log_softmax")
        if loss in ("cross_entropy", "bce_with_logits") and last in ("softmax", "sigmoid"):
            self.warnings.append(f"loss {loss!r} takes logits, but the last layer applies {last}: "
                                 "almost always a mistake (kept: its conformance is still checked)")
        if loss == "nll" and last != "softmax":
            self.warnings.append(f"loss 'nll' takes probabilities; the last layer is {last}, not "
                                 "softmax")
        if loss == "bce" and last != "sigmoid":
            self.warnings.append(f"loss 'bce' takes probabilities in (0, 1); the last layer is "
                                 f"{last}, not sigmoid")


