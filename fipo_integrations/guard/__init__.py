"""The guard: accept a rewrite only when it cannot silently make the prompt worse.

A rewrite is rejected when it

* loses, alters or adds a template placeholder (found with ``string.Formatter`` and jinja2's lexer);
* loses a number, quoted string, name, option, label of a label set, or an output-format or length
  constraint of the original, or adds a label to a label set;
* invents content: a number, name, quotation, URL, file name, code identifier, question or example that
  neither the original nor the silver/golden responses contain;
* is not a prompt for the same task: a loop, refusal, answer (appended or instead of the prompt), request
  for the input, chat preamble or sign-off, echo of the optimizer's meta-prompt, a different task, or a
  drift away from the task (few of the original's words kept and a low embedding similarity);
* is far longer than its word budget.

Each failure is a :class:`Reason` (``code`` + ``detail``). Otherwise the caller falls back to the original.

>>> verdict = check_rewrite("Answer the question: {question}", "Answer this question clearly: {question}")
>>> verdict.accepted
True
>>> [str(r) for r in check_rewrite("Answer the question: {question}", "Answer the question.").reasons]
['lost_placeholder: {question}']
"""

from __future__ import annotations

from .core import GuardConfig, GuardVerdict, check_rewrite
from .placeholders import extract_placeholders
from .reasons import CODES, Reason

__all__ = ["CODES", "GuardConfig", "GuardVerdict", "Reason", "check_rewrite", "extract_placeholders"]
