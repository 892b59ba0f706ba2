"""Answer extraction, option-letter scoring and the report statistics on hand-checked cases."""

from __future__ import annotations

import math

import pytest

from fipo_integrations.evaluation.scoring import (
    answer_segment,
    extract_label,
    extract_number,
    extract_option_letter,
    normalize_text,
    score_choice,
    score_choice_reply,
    score_generation,
)
from fipo_integrations.evaluation.stats import mcnemar_exact, paired_difference, weighted_average, wilson_interval


@pytest.mark.parametrize(
    ("response", "target", "prediction", "correct"),
    [
        ("Janet sells 16 - 3 - 4 = 9 eggs. 9 * 2 = 18. The answer is 18.", "18", "18", True),
        ("The answer is $1,250.", "1250", "1250", True),
        ("So the answer is 18 dollars, not 20.", "18", "18", True),  # first number after "the answer is"
        ("She has 5 + 7 = 12 left", "12", "12", True),  # no cue: last number
        ("10 - 5 = 5", "5", "5", True),  # a minus between numbers is not a sign
        ("The result is -3", "-3", "-3", True),
        ("The answer is 2.50", "2.5", "2.5", True),
        ("The answer is 18.0", "18", "18", True),
        ("The answer is 4 * 5 = 20 minutes.", "20", "20", True),  # the result after the last "="
        ("The answer is 10 - 10 - 10 = $15.", "15", "15", True),
        ("I do not know", "7", "", False),
        ("The answer is 17.", "18", "17", False),
    ],
)
def test_gsm8k_extraction(response: str, target: str, prediction: str, correct: bool) -> None:
    assert score_generation("gsm8k", response, target) == (prediction, correct)


@pytest.mark.parametrize(
    ("response", "target", "prediction", "correct"),
    [
        ("(B)", "(B)", "(B)", True),
        ("(B) The specialist had a skin condition", "(B)", "(B)", True),
        ("Let's think. So the answer is (C).", "(C)", "(C)", True),
        ("A", "(A)", "(A)", True),  # a bare letter
        ("The answer is (D).", "(A)", "(D)", False),
        ("True", "True", "true", True),
        ("false", "False", "false", True),
        ("Yes, the sentence is plausible.", "yes", "yes", True),
        ("No", "Yes", "no", False),
        ("invalid", "invalid", "invalid", True),
        ("valid\n\nQ: next", "invalid", "valid", False),  # "valid" is not found inside "invalid"
        ("24", "24", "24", True),
        ("((-1 + 2) * 3) = -9", "-9", "-9", True),
        ("A: 8", "8", "8", True),
        ("apple, banana cherry.", "apple banana cherry", "apple banana cherry", True),
        ("cherry apple banana", "apple banana cherry", "cherry apple banana", False),
        ("Monsters, Inc", "Monsters, Inc", "monsters inc", True),
        ("", "(A)", "", False),
    ],
)
def test_bbh_extraction(response: str, target: str, prediction: str, correct: bool) -> None:
    assert score_generation("bbh", response, target) == (prediction, correct)


def test_extraction_helpers() -> None:
    assert answer_segment("Reasoning first.\nThe answer is (B).\nQ: another") == "(B)."
    assert answer_segment("\n\nAnswer: 12\nmore") == "12"
    assert extract_number("costs $3 then $1,000.50") == "1000.5"
    assert extract_number("costs $3 then $1,000.50", last=False) == "3"
    assert extract_option_letter("Answer: b", "AB") is None  # lower-case letters are words, not options
    assert extract_option_letter("the answer is B", "AB") == "B"
    assert extract_option_letter("B) Store it in a bag.", "AB") == "B"
    assert extract_option_letter("C. something", "AB") is None  # not an allowed letter
    assert extract_option_letter("A good option would be to wait", "AB") is None
    assert extract_label("Not sure. Yes.", ["yes", "no"]) == "yes"
    assert normalize_text(" 'Hello ,  World.' ") == "hello world"
    with pytest.raises(ValueError, match="gsm8k and bbh"):
        score_generation("mmlu", "A", "A")


def test_option_letter_scoring() -> None:
    assert score_choice([-1.2, -0.3], ("A", "B"), "B") == ("B", True)
    assert score_choice([-0.3, -1.2, -0.1, -5.0], tuple("ABCD"), "A") == ("C", False)
    assert score_choice([-1.0, -1.0], ("A", "B"), "A") == ("A", True)  # ties go to the first letter
    assert score_choice_reply("B. Store it in a bag.", ("A", "B"), "B") == ("B", True)
    assert score_choice_reply("I am not sure", ("A", "B"), "A") == ("", False)
    with pytest.raises(ValueError, match="one log-probability per choice"):
        score_choice([-1.0], ("A", "B"), "A")


def test_wilson_interval_hand_checked() -> None:
    # p = 0.6, n = 50, z = 1.96: centre 0.59287, half-width 0.13105 (computed by hand from the formula).
    low, high = wilson_interval(30, 50)
    assert low == pytest.approx(0.46181, abs=1e-4)
    assert high == pytest.approx(0.72392, abs=1e-4)
    # 0 of 10: lower bound 0, upper bound z^2 / (n + z^2) = 3.8415 / 13.8415.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 3.841459 / 13.841459), abs=1e-6)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="0 <= correct <= total"):
        wilson_interval(5, 3)


def test_mcnemar_exact_hand_checked() -> None:
    assert mcnemar_exact(1, 6) == pytest.approx(2 * (1 + 7) / 2**7)  # 0.125
    assert mcnemar_exact(6, 1) == mcnemar_exact(1, 6)
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0


def test_paired_difference_hand_checked() -> None:
    naive = [True] * 6 + [False] * 4
    optimized = [True, True, True, True, True, False, True, True, True, False]
    diff = paired_difference(naive, optimized)
    assert (diff.n, diff.gained, diff.lost) == (10, 3, 1)
    assert diff.difference == pytest.approx(0.2)
    # Wald variance: ((b + c) / n - d^2) / n = (0.4 - 0.04) / 10 = 0.036.
    assert diff.variance == pytest.approx(0.036)
    assert diff.ci_low == pytest.approx(0.2 - 1.959964 * math.sqrt(0.036), abs=1e-6)
    assert diff.p_value == pytest.approx(2 * (1 + 4) / 16)  # binomial(4, 1/2), k <= 1, two-sided: 0.625
    with pytest.raises(ValueError, match="same items"):
        paired_difference([True], [True, False])


def test_weighted_average_hand_checked() -> None:
    average = weighted_average([0.5, 0.8], [0.01, 0.04], [300, 100])
    assert average.value == pytest.approx(0.575)
    se = math.sqrt(0.75**2 * 0.01 + 0.25**2 * 0.04)
    assert average.ci_high - average.value == pytest.approx(1.959964 * se, abs=1e-6)
    assert average.p_value == pytest.approx(math.erfc(0.575 / se / math.sqrt(2)))
    with pytest.raises(ValueError, match="positive sum"):
        weighted_average([0.5], [0.0], [0])
