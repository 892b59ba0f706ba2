"""The naive task instructions: one per task, the only text the optimizers rewrite.

BBH uses each task's one-line description from the BIG-Bench Hard prompt files; MMLU the usual
"The following are multiple choice questions (with answers) about {subject}." line.

>>> naive_instruction("bbh", "navigate")
'Given a series of navigation instructions, determine whether one would end up back at the starting point.'
>>> naive_instruction("mmlu", "high_school_biology")
'The following are multiple choice questions (with answers) about high school biology.'
"""

from __future__ import annotations

__all__ = ["BBH_TASK_DESCRIPTIONS", "naive_instruction"]

_SHARED = {
    "gsm8k": 'Solve the math word problem. Reason step by step and end with "The answer is N."',
    "piqa": "Choose the solution that best achieves the goal. Reply with the letter of the solution.",
    "cosmosqa": "Read the context and answer the question about it. Reply with the letter of the best answer.",
}
_MMLU_SHARED = "The following are multiple choice questions (with answers) about several academic subjects."

#: One-line task descriptions of the 27 BIG-Bench Hard tasks.
BBH_TASK_DESCRIPTIONS: dict[str, str] = {
    "boolean_expressions": "Evaluate the result of a random Boolean expression.",
    "causal_judgement": "Answer questions about causal attribution.",
    "date_understanding": "Infer the date from context.",
    "disambiguation_qa": "Clarify the meaning of sentences with ambiguous pronouns.",
    "dyck_languages": "Correctly close a Dyck-n word.",
    "formal_fallacies": "Distinguish deductively valid arguments from formal fallacies.",
    "geometric_shapes": "Name geometric shapes from their SVG paths.",
    "hyperbaton": "Order adjectives correctly in English sentences.",
    "logical_deduction_five_objects": (
        "A logical deduction task which requires deducing the order of a sequence of objects."
    ),
    "logical_deduction_seven_objects": (
        "A logical deduction task which requires deducing the order of a sequence of objects."
    ),
    "logical_deduction_three_objects": (
        "A logical deduction task which requires deducing the order of a sequence of objects."
    ),
    "movie_recommendation": "Recommend movies similar to the given list of movies.",
    "multistep_arithmetic_two": "Solve multi-step arithmetic problems.",
    "navigate": (
        "Given a series of navigation instructions, determine whether one would end up back at the starting point."
    ),
    "object_counting": "Questions that involve enumerating objects and asking the model to count them.",
    "penguins_in_a_table": "Answer questions about a table of penguins and their attributes.",
    "reasoning_about_colored_objects": "Answer extremely simple questions about the colors of objects on a surface.",
    "ruin_names": "Select the humorous edit that 'ruins' the input movie or musical artist name.",
    "salient_translation_error_detection": (
        "Detect the type of error in an English translation of a German source sentence."
    ),
    "snarks": "Determine which of two sentences is sarcastic.",
    "sports_understanding": (
        "Determine whether an artificially constructed sentence relating to sports is plausible or not."
    ),
    "temporal_sequences": "Answer questions about which times certain events could have occurred.",
    "tracking_shuffled_objects_five_objects": (
        "A task requiring determining the final positions of a set of objects given their initial positions "
        "and a description of a sequence of swaps."
    ),
    "tracking_shuffled_objects_seven_objects": (
        "A task requiring determining the final positions of a set of objects given their initial positions "
        "and a description of a sequence of swaps."
    ),
    "tracking_shuffled_objects_three_objects": (
        "A task requiring determining the final positions of a set of objects given their initial positions "
        "and a description of a sequence of swaps."
    ),
    "web_of_lies": "Evaluate a random boolean function expressed as a word problem.",
    "word_sorting": "Sort a list of words.",
}


def naive_instruction(benchmark: str, task: str, *, mmlu_shared: bool = False) -> str:
    """The naive instruction of ``task`` in ``benchmark`` (unknown BBH tasks get a generic one)."""
    if benchmark == "bbh":
        return BBH_TASK_DESCRIPTIONS.get(task, f"Solve the {task.replace('_', ' ')} task. Answer the question.")
    if benchmark == "mmlu":
        if mmlu_shared:
            return _MMLU_SHARED
        return f"The following are multiple choice questions (with answers) about {task.replace('_', ' ')}."
    if benchmark in _SHARED:
        return _SHARED[benchmark]
    raise ValueError(f"unknown benchmark {benchmark!r}; known: gsm8k, bbh, piqa, cosmosqa, mmlu")
