"""Sentences a reader can act on, from the rows of one framework's comparison with one party.

First who is wrong (the suspect, from the consensus of every party: harness.verdicts.consensus), then
which part of the training step it went wrong in, from the first step that went wrong; the
tensor-level hints (a constant ratio, a flipped sign) come from the comparator, which sees the
whole tensors. Later steps only inherit the divergence.

Each part of the step is judged on its own evidence, in order: the forward pass (the output),
the loss, the backward pass, the update. The backward pass has evidence of its own where the
party was self-checked (harness.oracles.selfcheck: its gradients against finite differences of its own
loss), so a wrong backward pass is named even where the loss is wrong too and every gradient
differs from the reference for that reason alone; and a self-check that passes clears the
backward pass where the loss or the output differs.
"""
from __future__ import annotations

from collections import Counter

from ..format.parties import EXPECTED, SELF, UNCLEAR
from .compare import FAIL, PASS, Row
from .layers import locate

NOT_DERIVATIVE = "your gradients are not the derivative of your own loss"
BACKWARD_WRONG = f"{NOT_DERIVATIVE}: the backward pass is wrong"
CONSISTENT = ("your gradients are the derivative of your own loss (the self-check passes), so "
              "the backward pass is consistent with it")


def self_verdict(rows: list[Row]) -> str | None:
    """"fail" when a self-check row fails, "pass" when some pass and none fails, else None."""
    mine = [r for r in rows if r.reference == SELF]
    if any(r.status == FAIL for r in mine):
        return "fail"
    return "pass" if any(r.status == PASS for r in mine) else None


def first_failing_step(rows: list[Row]) -> int | None:
    steps = [r.step for r in rows if r.status == FAIL and r.step is not None]
    return min(steps) if steps else None


def _names(parties: list[str]) -> str:
    parties = [p if p != EXPECTED else "the golden values" for p in parties]
    if len(parties) <= 2:
        return " and ".join(parties)
    return ", ".join(parties[:-1]) + " and " + parties[-1]


def consensus(rows: list[Row], self_rows: list[Row] = ()) -> str:
    """Who agrees with whom on the first failing step, and so who is suspect, in words. Where
    no majority decides, a failing self-check (``self_rows``) still convicts the backward pass."""
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

    def after_agree(sentence: str) -> str:  # "a and b agree with each other; x differs."
        if agree:
            return f"{agree}; {sentence}"
        first_word = sentence.split(" ", 1)[0]  # a party's name keeps its case
        return sentence[0].upper() + sentence[1:] if first_word in ("the", "both") else sentence
    if suspect == first.framework:
        return after_agree(f"{first.framework} differs.")
    if suspect == EXPECTED:
        return after_agree("the golden value differs: check how the case's expected values were "
                           "computed.")
    if suspect == against:
        return after_agree(f"the {against} reference differs, not {first.framework}.")
    if suspect == UNCLEAR or not suspect:
        if self_verdict(list(self_rows)) == "fail":
            return (f"No majority of agreeing parties, but {first.framework}'s self-check fails: "
                    "its gradients are not the derivative of its own loss, so its backward pass "
                    "is wrong whatever the others say.")
        return (f"No majority of agreeing parties: it cannot be said whether {first.framework} or "
                f"{'the golden values' if against == EXPECTED else 'the ' + against} is wrong "
                "(run more frameworks beside them to decide).")
    return after_agree(f"both {_names(suspect.split())} differ from "
                       f"{'them' if agree else 'the others'}.")


def where_it_goes_wrong(rows: list[Row], self_rows: list[Row] = ()) -> str:
    """One sentence: forward pass, loss, backward pass or update, of the suspect party, each
    judged on its own evidence; ``self_rows`` (the party's self-check) are the backward pass's."""
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
    backward = self_verdict(list(self_rows))
    if backward == "fail" and suspect in (framework, UNCLEAR, "", None):
        whose = "the mistake is in the"  # its own loss says so, whatever the others say
    if "output" in failed:
        part = "the forward pass already differs (the output)"
        if backward == "fail":
            part += (f" AND {NOT_DERIVATIVE}: both the forward pass and the backward pass are "
                     "wrong")
        elif backward == "pass":
            part += f"; {CONSISTENT}: {whose} forward pass"
    elif "loss" in failed:
        if backward == "fail":
            part = (f"the output agrees but the loss differs from the reference AND "
                    f"{NOT_DERIVATIVE}: both the loss and the backward pass are wrong")
        else:
            part = f"the output agrees but the loss does not: {whose} loss"
            if backward == "pass":
                part += f"; {CONSISTENT}"
    elif "hvp" in failed:  # second order: the derivative of the backward pass itself
        part = ("the Hessian-vector product differs from finite differences of the reference's "
                f"gradient: {whose} second derivatives (the derivative of the backward pass)")
    elif "grad" in failed:
        agree = " and ".join(q for q in ("output", "loss") if q in compared)
        part = (f"the {agree} agree{'s' if ' and ' not in agree else ''} but the gradients do not: "
                f"{whose} backward pass") if agree else "the gradients differ"
        if backward == "fail":
            part += f"; {NOT_DERIVATIVE} either"
    else:
        part = (f"the gradients agree but the updated parameters do not: {whose} update"
                ) if "grad" in compared else "the updated parameters differ"
        if backward == "fail":
            part += f"; and {BACKWARD_WRONG}"
    return f"First wrong at step {step}: {part}.{later}"


def self_hints(rows: list[Row]) -> list[str]:
    """The sentences of a self-check that failed: the backward pass, then each tensor."""
    failing = [r for r in rows if r.status == FAIL]
    if not failing:
        return []
    return [f"{failing[0].framework}: {BACKWARD_WRONG} (checked against finite differences of "
            "the loss it returns, at the parameters of its first step)."] + \
        [r.hint for r in failing if r.hint]


def verdict(rows: list[Row], self_rows: list[Row] = ()) -> list[str]:
    """The verdict in sentences, no tensor's detail: who is suspect, where in the step, where in
    the network; a self-check's (rows against ``self``) its own first sentence."""
    if rows and all(r.reference == SELF for r in rows):
        return self_hints(rows)[:1]
    if first_failing_step(rows) is None:
        return []
    return [consensus(rows, self_rows), where_it_goes_wrong(rows, self_rows),
            *filter(None, [where_in_the_network(rows)])]


def tensor_hints(rows: list[Row]) -> list[str]:
    """The hint of each failing tensor of the first failing step (a self-check's: each)."""
    if rows and all(r.reference == SELF for r in rows):
        return self_hints(rows)[1:]
    step = first_failing_step(rows)
    return [r.hint for r in rows if r.step == step and r.status == FAIL and r.hint]


def hints(rows: list[Row], self_rows: list[Row] = ()) -> list[str]:
    """Who is suspect, where in the step and the network, then the per-tensor hints of the first
    failing step. Rows of a self-check (reference ``self``) get its own sentences;
    ``self_rows`` beside rows against another party are the backward pass's own evidence."""
    return verdict(rows, self_rows) + tensor_hints(rows)


def where_in_the_network(rows: list[Row]) -> str:
    """For a mistake in the backward pass (the output and loss of the first failing step agree,
    its gradients do not): which layer it enters at (harness.verdicts.layers); "" otherwise,
    where a differing loss or output already explains every differing gradient."""
    step = first_failing_step(rows)
    failed = {r.quantity for r in rows if r.step == step and r.status == FAIL}
    if step is None or "grad" not in failed or failed & {"output", "loss"}:
        return ""
    suspects = {r.suspect for r in rows if r.step == step and r.status == FAIL}
    if suspects == {EXPECTED}:
        return ""  # every party computes the same: the golden values are wrong, not a layer
    return locate(rows, step)
