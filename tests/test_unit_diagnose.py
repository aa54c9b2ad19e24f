"""Unit tests of harness.verdicts.diagnose: every sentence it can say, each from the smallest
rows that make it (who is suspect, where in the training step, a self-check's own sentences)."""
from __future__ import annotations

import pytest

from harness.verdicts.compare import ERROR, FAIL, PASS, XFAIL, Row
from harness.verdicts.diagnose import (consensus, first_failing_step, hints, self_hints,
                                       self_verdict, where_it_goes_wrong)

W, B = "layers.0.weight", "layers.0.bias"
LATER = " Later steps start from different parameters, so their differences follow from it."
NOT_DERIVATIVE = "your gradients are not the derivative of your own loss"
CONSISTENT = ("your gradients are the derivative of your own loss (the self-check passes), so "
              "the backward pass is consistent with it")


def row(quantity: str, status: str = FAIL, step: int | None = 1, *, framework: str = "torch",
        reference: str = "numpy", suspect: str = "", agreeing: str = "", tensor: str = "",
        hint: str = "") -> Row:
    tensor = tensor or {"output": "output", "loss": "loss"}.get(quantity, W)
    return Row(case="c", file="c.yaml", dtype="float64", framework=framework,
               reference=reference, step=step, quantity=quantity, tensor=tensor, status=status,
               suspect=suspect if status == FAIL else "", agreeing=agreeing, hint=hint)


def passing(*quantities: str, step: int = 1, **fields) -> list[Row]:
    return [row(q, PASS, step, **fields) for q in quantities]


def self_rows(status: str, framework: str = "torch") -> list[Row]:
    return [row("grad", PASS, framework=framework, reference="self", tensor=B),
            row("grad", status, framework=framework, reference="self", suspect=framework)]


# -- helpers -----------------------------------------------------------------------------------

def test_first_failing_step_ignores_other_statuses_and_whole_framework_rows():
    rows = [row("grad", ERROR, None), row("grad", XFAIL, 1), row("loss", PASS, 2),
            row("param", FAIL, 3), row("grad", FAIL, 4)]
    assert first_failing_step(rows) == 3
    assert first_failing_step(rows[:3]) is None


def test_self_verdict():
    assert self_verdict(self_rows(FAIL)) == "fail"
    assert self_verdict(self_rows(PASS)) == "pass"
    assert self_verdict([]) is None
    # only rows against the party's own loss count
    assert self_verdict([row("grad", FAIL, suspect="torch")]) is None


def test_nothing_failing_says_nothing():
    rows = passing("output", "loss", "grad", "param")
    assert consensus(rows) == ""
    assert where_it_goes_wrong(rows) == ""
    assert hints(rows) == []
    assert self_hints(self_rows(PASS)) == []


# -- who is wrong: consensus -------------------------------------------------------------------

def test_the_framework_differs_from_the_others():
    rows = [row("grad", suspect="torch", agreeing="numpy jax micrograd")]
    assert consensus(rows) == "numpy, jax and micrograd agree with each other; torch differs."


def test_the_framework_differs_with_no_agreeing_list():
    assert consensus([row("grad", suspect="torch")]) == "torch differs."


def test_two_agreeing_parties_are_joined_by_and_and_golden_values_named_so():
    rows = [row("grad", suspect="torch", agreeing="numpy expected")]
    assert consensus(rows) == "numpy and the golden values agree with each other; torch differs."


def test_the_golden_value_differs():
    rows = [row("grad", reference="expected", suspect="expected", agreeing="numpy torch jax")]
    assert consensus(rows) == ("numpy, torch and jax agree with each other; the golden value "
                               "differs: check how the case's expected values were computed.")


def test_the_reference_differs():
    rows = [row("loss", suspect="numpy", agreeing="torch jax")]
    assert consensus(rows) == "torch and jax agree with each other; the numpy reference differs, " \
                              "not torch."


def test_both_sides_differ_from_the_majority():
    rows = [row("grad", suspect="torch numpy", agreeing="jax micrograd")]
    assert consensus(rows) == ("jax and micrograd agree with each other; both torch and numpy "
                               "differ from them.")


@pytest.mark.parametrize("suspect", ["unclear", ""])
def test_no_majority(suspect):
    sentence = consensus([row("grad", suspect=suspect)])
    assert sentence.startswith("No majority of agreeing parties: it cannot be said whether "
                               "torch or the numpy")
    assert sentence.endswith("is wrong (run more frameworks beside them to decide).")


def test_no_majority_against_golden_values():
    rows = [row("grad", reference="expected", suspect="unclear")]
    assert "whether torch or the golden values is wrong" in consensus(rows)


def test_no_majority_but_a_failing_self_check_convicts_the_backward_pass():
    rows = [row("grad", framework="mine", suspect="unclear")]
    assert consensus(rows, self_rows(FAIL, "mine")) == (
        "No majority of agreeing parties, but mine's self-check fails: its gradients are not the "
        "derivative of its own loss, so its backward pass is wrong whatever the others say.")
    # a passing self-check does not: it stays undecided
    assert consensus(rows, self_rows(PASS, "mine")).startswith(
        "No majority of agreeing parties: it cannot be said")


def test_the_suspect_is_the_most_common_at_the_first_failing_step_only():
    rows = [row("output", PASS), row("grad", suspect="torch", agreeing="numpy jax"),
            row("grad", tensor=B, suspect="torch", agreeing="numpy jax"),
            row("param", suspect="unclear"),
            row("grad", step=2, suspect="numpy", agreeing="torch jax"),
            row("loss", step=2, suspect="numpy", agreeing="torch jax"),
            row("output", step=2, suspect="numpy", agreeing="torch jax")]
    assert consensus(rows) == "numpy and jax agree with each other; torch differs."


def test_the_reference_differs_without_an_agreeing_list_is_a_whole_sentence():
    rows = [row("hvp", reference="fd", suspect="fd", tensor="v0")]
    sentence = consensus(rows)
    assert sentence == "The fd reference differs, not torch.", sentence


# -- where it goes wrong -----------------------------------------------------------------------

def test_golden_values_suspect():
    rows = [row("grad", reference="expected", suspect="expected", agreeing="numpy torch")]
    assert where_it_goes_wrong(rows) == ("First wrong at step 1: every party computes the same, "
                                         "so the golden values are suspect, not a mistake in "
                                         "torch.")


def test_the_forward_pass():
    rows = [row("output", suspect="torch"), row("loss", suspect="torch")]
    assert where_it_goes_wrong(rows) == \
        "First wrong at step 1: the forward pass already differs (the output)."


def test_the_forward_pass_and_a_failing_self_check():
    rows = [row("output", suspect="torch")]
    assert where_it_goes_wrong(rows, self_rows(FAIL)) == (
        f"First wrong at step 1: the forward pass already differs (the output) AND "
        f"{NOT_DERIVATIVE}: both the forward pass and the backward pass are wrong.")


def test_the_forward_pass_and_a_passing_self_check():
    rows = [row("output", suspect="torch")]
    assert where_it_goes_wrong(rows, self_rows(PASS)) == (
        f"First wrong at step 1: the forward pass already differs (the output); {CONSISTENT}: "
        f"the mistake is in the forward pass.")


def test_the_loss():
    rows = passing("output") + [row("loss", suspect="torch"), row("grad", suspect="torch")]
    assert where_it_goes_wrong(rows) == \
        "First wrong at step 1: the output agrees but the loss does not: the mistake is in the loss."


def test_the_loss_and_a_failing_self_check():
    rows = passing("output") + [row("loss", suspect="torch")]
    assert where_it_goes_wrong(rows, self_rows(FAIL)) == (
        f"First wrong at step 1: the output agrees but the loss differs from the reference AND "
        f"{NOT_DERIVATIVE}: both the loss and the backward pass are wrong.")


def test_the_loss_and_a_passing_self_check():
    rows = passing("output") + [row("loss", suspect="torch")]
    assert where_it_goes_wrong(rows, self_rows(PASS)) == (
        f"First wrong at step 1: the output agrees but the loss does not: the mistake is in the "
        f"loss; {CONSISTENT}.")


def test_the_backward_pass():
    rows = passing("output", "loss") + [row("grad", suspect="torch")]
    assert where_it_goes_wrong(rows) == ("First wrong at step 1: the output and loss agree but "
                                         "the gradients do not: the mistake is in the backward "
                                         "pass.")


def test_the_backward_pass_when_only_the_loss_was_compared():
    rows = passing("loss") + [row("grad", suspect="torch")]
    assert where_it_goes_wrong(rows) == ("First wrong at step 1: the loss agrees but the "
                                         "gradients do not: the mistake is in the backward pass.")


def test_the_gradients_alone():
    assert where_it_goes_wrong([row("grad", suspect="torch")]) == \
        "First wrong at step 1: the gradients differ."


def test_the_backward_pass_and_a_failing_self_check():
    rows = passing("output", "loss") + [row("grad", suspect="torch")]
    assert where_it_goes_wrong(rows, self_rows(FAIL)).endswith(
        f"the mistake is in the backward pass; {NOT_DERIVATIVE} either.")


def test_the_update():
    rows = passing("output", "loss", "grad") + [row("param", suspect="torch")]
    assert where_it_goes_wrong(rows) == ("First wrong at step 1: the gradients agree but the "
                                         "updated parameters do not: the mistake is in the update.")


def test_the_updated_parameters_alone():
    assert where_it_goes_wrong([row("param", suspect="torch")]) == \
        "First wrong at step 1: the updated parameters differ."


def test_the_update_and_a_failing_self_check():
    rows = passing("grad") + [row("param", suspect="torch")]
    assert where_it_goes_wrong(rows, self_rows(FAIL)) == (
        f"First wrong at step 1: the gradients agree but the updated parameters do not: the "
        f"mistake is in the update; and {NOT_DERIVATIVE}: the backward pass is wrong.")


def test_the_reference_is_where_the_mistake_is():
    rows = passing("output") + [row("loss", suspect="numpy", agreeing="torch jax")]
    assert where_it_goes_wrong(rows) == ("First wrong at step 1: the output agrees but the loss "
                                         "does not: the mistake is in the numpy reference's "
                                         "loss.")


@pytest.mark.parametrize("suspect", ["unclear", "torch numpy"])
def test_an_undecided_suspect_is_a_difference_not_a_mistake(suspect):
    rows = passing("output", "loss") + [row("grad", suspect=suspect)]
    assert where_it_goes_wrong(rows).endswith("but the gradients do not: the difference is in the "
                                              "backward pass.")


def test_no_majority_but_a_failing_self_check_is_a_mistake():
    rows = passing("output", "loss") + [row("grad", suspect="unclear")]
    assert "the mistake is in the backward pass" in where_it_goes_wrong(rows, self_rows(FAIL))


def test_later_failures_follow_from_the_first():
    rows = passing("output") + [row("loss", suspect="torch"), row("loss", step=2,
                                                                  suspect="torch")]
    assert where_it_goes_wrong(rows).endswith("the mistake is in the loss." + LATER)
    # a later step that passes adds nothing
    assert not where_it_goes_wrong(rows[:2] + passing("loss", step=2)).endswith(LATER)


def test_the_first_failing_step_is_named():
    rows = passing("output", "loss", "grad") + passing("output", step=2) + [
        row("loss", step=2, suspect="torch"), row("loss", step=3, suspect="torch")]
    assert where_it_goes_wrong(rows) == ("First wrong at step 2: the output agrees but the loss "
                                         "does not: the mistake is in the loss." + LATER)


def test_a_failing_hessian_vector_product_is_not_called_an_update():
    rows = [row("hvp", reference="fd", suspect="torch", tensor="v0")]
    sentence = where_it_goes_wrong(rows)
    assert "updated parameters" not in sentence, sentence
    assert sentence.startswith("First wrong at step 1: the Hessian-vector product differs"), \
        sentence


# -- the sentences together --------------------------------------------------------------------

def test_hints_are_who_where_then_the_first_failing_steps_tensor_hints():
    rows = passing("output", "loss") + [
        row("grad", suspect="torch", agreeing="numpy jax", hint="grad W: 2× the reference."),
        row("grad", tensor=B, suspect="torch", agreeing="numpy jax"),  # no hint: not listed
        row("grad", step=2, suspect="torch", agreeing="numpy jax", hint="step 2 hint")]
    assert hints(rows) == [
        "numpy and jax agree with each other; torch differs.",
        "First wrong at step 1: the output and loss agree but the gradients do not: the mistake "
        "is in the backward pass." + LATER,
        "grad W: 2× the reference."]


def test_hints_of_self_check_rows_are_its_own_sentences():
    rows = [row("grad", PASS, framework="mine", reference="self", tensor=B),
            row("grad", framework="mine", reference="self", suspect="mine", hint="grad W: 2×."),
            row("grad", framework="mine", reference="self", suspect="mine", tensor="x")]
    expected = [f"mine: {NOT_DERIVATIVE}: the backward pass is wrong (checked against finite "
                "differences of the loss it returns, at the parameters of its first step).",
                "grad W: 2×."]
    assert self_hints(rows) == expected
    assert hints(rows) == expected
