"""Sentences a learner can act on, from the rows of one framework's run of one case.

The tensor-level hint (a constant ratio, a flipped sign) comes from the comparator, which sees the
whole tensors; this module reads the rows of the first step that went wrong and says which part
of the training step the mistake is in. Later steps only inherit the divergence.
"""
from __future__ import annotations

from .compare import FAIL, Row


def first_failing_step(rows: list[Row]) -> int | None:
    steps = [r.step for r in rows if r.status == FAIL and r.step is not None]
    return min(steps) if steps else None


def where_it_goes_wrong(rows: list[Row]) -> str:
    """One sentence: forward pass, loss, backward pass or update."""
    step = first_failing_step(rows)
    if step is None:
        return ""
    at_step = [r for r in rows if r.step == step]
    failed = {r.quantity for r in at_step if r.status == FAIL}
    compared = {r.quantity for r in at_step}
    later = " Later steps start from different parameters, so their differences follow from it." \
        if any(r.step and r.step > step and r.status == FAIL for r in rows) else ""
    if "output" in failed:
        part = "the forward pass already differs (the output)"
    elif "loss" in failed:
        part = "the output agrees but the loss does not: the mistake is in the loss"
    elif "grad" in failed:
        agree = " and ".join(q for q in ("output", "loss") if q in compared)
        part = (f"the {agree} agree{'s' if ' and ' not in agree else ''} but the gradients do not: "
                "the mistake is in the backward pass") if agree else "the gradients differ"
    else:
        part = ("the gradients agree but the updated parameters do not: the mistake is in the "
                "update") if "grad" in compared else "the updated parameters differ"
    return f"First wrong at step {step}: {part}.{later}"


def hints(rows: list[Row]) -> list[str]:
    """The per-tensor hints of the first failing step, after the step-level sentence."""
    step = first_failing_step(rows)
    if step is None:
        return []
    return [where_it_goes_wrong(rows)] + [r.hint for r in rows
                                          if r.step == step and r.status == FAIL and r.hint]
