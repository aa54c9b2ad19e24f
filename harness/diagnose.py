"""Sentences a reader can act on, from the rows of one framework's comparison with one party.

First who is wrong (the suspect, from the consensus of every party: harness.consensus), then
which part of the training step it went wrong in, from the first step that went wrong; the
tensor-level hints (a constant ratio, a flipped sign) come from the comparator, which sees the
whole tensors. Later steps only inherit the divergence.
"""
from __future__ import annotations

from collections import Counter

from .compare import FAIL, Row

EXPECTED = "expected"
UNCLEAR = "unclear"


def first_failing_step(rows: list[Row]) -> int | None:
    steps = [r.step for r in rows if r.status == FAIL and r.step is not None]
    return min(steps) if steps else None


def _names(parties: list[str]) -> str:
    parties = [p if p != EXPECTED else "the golden values" for p in parties]
    if len(parties) <= 2:
        return " and ".join(parties)
    return ", ".join(parties[:-1]) + " and " + parties[-1]


def consensus(rows: list[Row]) -> str:
    """Who agrees with whom on the first failing step, and so who is suspect, in words."""
    step = first_failing_step(rows)
    if step is None:
        return ""
    failing = [r for r in rows if r.step == step and r.status == FAIL]
    suspect, _ = Counter(r.suspect for r in failing).most_common(1)[0]
    first = failing[0]
    agreeing = next((r.agreeing.split() for r in failing if r.suspect == suspect and r.agreeing),
                    [])
    against = first.reference
    agree = f"{_names(agreeing)} agree with each other" if agreeing else ""
    if suspect == first.framework:
        return f"{agree}; {first.framework} differs." if agree else f"{first.framework} differs."
    if suspect == EXPECTED:
        return (f"{agree}; the golden value differs: check how the case's expected values were "
                "computed.")
    if suspect == against:
        return f"{agree}; the {against} reference differs, not {first.framework}."
    if suspect == UNCLEAR or not suspect:
        return (f"No majority of agreeing parties: it cannot be said whether {first.framework} or "
                f"{'the golden values' if against == EXPECTED else 'the ' + against} is wrong "
                "(run more frameworks beside them to decide).")
    return f"{agree}; both {_names(suspect.split())} differ from them."


def where_it_goes_wrong(rows: list[Row]) -> str:
    """One sentence: forward pass, loss, backward pass or update, of the suspect party."""
    step = first_failing_step(rows)
    if step is None:
        return ""
    at_step = [r for r in rows if r.step == step]
    failed = {r.quantity for r in at_step if r.status == FAIL}
    compared = {r.quantity for r in at_step}
    later = " Later steps start from different parameters, so their differences follow from it." \
        if any(r.step and r.step > step and r.status == FAIL for r in rows) else ""
    suspect = Counter(r.suspect for r in at_step if r.status == FAIL).most_common(1)[0][0]
    framework, against = at_step[0].framework, at_step[0].reference
    if suspect == EXPECTED:
        return (f"First wrong at step {step}: every party computes the same, so the golden "
                f"values are suspect, not a mistake in {framework}.{later}")
    whose = "the mistake is in the" if suspect in (framework, "", None) else \
        f"the mistake is in the {against} reference's" if suspect == against else \
        "the difference is in the"
    if "output" in failed:
        part = "the forward pass already differs (the output)"
    elif "loss" in failed:
        part = f"the output agrees but the loss does not: {whose} loss"
    elif "grad" in failed:
        agree = " and ".join(q for q in ("output", "loss") if q in compared)
        part = (f"the {agree} agree{'s' if ' and ' not in agree else ''} but the gradients do not: "
                f"{whose} backward pass") if agree else "the gradients differ"
    else:
        part = (f"the gradients agree but the updated parameters do not: {whose} update"
                ) if "grad" in compared else "the updated parameters differ"
    return f"First wrong at step {step}: {part}.{later}"


def hints(rows: list[Row]) -> list[str]:
    """Who is suspect, where in the step, then the per-tensor hints of the first failing step."""
    step = first_failing_step(rows)
    if step is None:
        return []
    return [consensus(rows), where_it_goes_wrong(rows)] + [
        r.hint for r in rows if r.step == step and r.status == FAIL and r.hint]
