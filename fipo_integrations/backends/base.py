"""The one small interface every optimizer backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .._async import in_executor
from ..templates import ChatMessage

__all__ = ["Backend", "GenerationParams", "cut_at_stop"]


@dataclass(frozen=True)
class GenerationParams:
    """Decoding parameters shared by all backends. Greedy (``temperature=0``) is the default."""

    #: Most tokens to generate per reply.
    max_new_tokens: int = 256
    #: 0 means greedy decoding; > 0 samples.
    temperature: float = 0.0
    #: Nucleus sampling mass (used only when sampling).
    top_p: float = 1.0
    #: Replies per conversation; more than one needs ``temperature > 0``.
    num_candidates: int = 1
    #: Seed for sampling, so sampled candidates are reproducible.
    seed: int | None = 0
    #: Stop strings: generation ends at the first one and the reply is cut before it (a str is one stop).
    stop: tuple[str, ...] = ()
    #: End a reply once it repeats the same block of tokens three times in a row (a generation loop), instead
    #: of running on to ``max_new_tokens``. The guard rejects such a reply either way; this only saves the
    #: time. Honoured by the transformers backend; others ignore it.
    stop_on_loop: bool = False
    #: End a reply once it has more than this many whitespace-separated words (``None``: no limit). The
    #: engine sets it a little above the guard's word limit, which would reject a longer rewrite anyway, so
    #: it only saves the time. Honoured by the transformers backend; others ignore it.
    max_words: int | None = None
    #: End the reply before its first token when the end-of-turn token has at least this probability there
    #: (``None``: decoding alone decides; greedy ends there only when it is the most likely token). With a reply
    #: prefilled with the user's prompt, the model then adds nothing unless it is confident that something helps.
    #: Honoured by the transformers backend; others ignore it.
    first_stop_probability: float | None = None

    def __post_init__(self) -> None:
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if not all(isinstance(item, str) for item in stop):
            raise TypeError(f"stop must be a sequence of strings, got {self.stop!r}; e.g. stop=('\\n\\n',)")
        object.__setattr__(self, "stop", tuple(item for item in stop if item))
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.first_stop_probability is not None and not 0.0 < self.first_stop_probability <= 1.0:
            raise ValueError(f"first_stop_probability must be in (0, 1] or None, got {self.first_stop_probability!r}")
        if self.max_words is not None and self.max_words < 1:
            raise ValueError(f"max_words must be >= 1 or None, got {self.max_words}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {self.num_candidates}")
        if self.num_candidates > 1 and self.temperature == 0:
            raise ValueError(
                f"num_candidates={self.num_candidates} with temperature=0 would return identical copies; "
                "set temperature > 0 (for example 0.7) to sample several rewrites"
            )

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def as_key(self) -> dict[str, Any]:
        """The fields that go into cache keys (``stop``, ``stop_on_loop``, ``max_words`` and
        ``first_stop_probability`` only when set, so older keys stay valid)."""
        key = asdict(self)
        if self.stop:
            key["stop"] = list(self.stop)
        else:
            del key["stop"]
        if not self.stop_on_loop:
            del key["stop_on_loop"]
        if self.max_words is None:
            del key["max_words"]
        if self.first_stop_probability is None:
            del key["first_stop_probability"]
        return key


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop string (unchanged when none occurs).

    Every backend applies it to its replies, so a reply never contains a stop string.

    >>> cut_at_stop("(B)\\n\\nQ: next question", ["\\nQ:", "\\n\\n"])
    '(B)'
    """
    positions = [position for position in (text.find(marker) for marker in stop if marker) if position >= 0]
    return text[: min(positions)] if positions else text


class Backend(ABC):
    """Generates replies to chat conversations; the model's own chat template turns messages into tokens.

    Subclasses implement :meth:`generate`; the rest has working defaults.
    """

    #: Stable identity of the model (and adapter) for cache keys.
    model_id: str = "unknown"
    #: Whether :meth:`generate` continues a conversation that ends with an assistant message (a prefilled
    #: reply) and returns only the continuation. Backends that cannot do that leave it ``False``.
    supports_prefill: bool = False

    @abstractmethod
    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        """For each conversation, ``params.num_candidates`` replies (in one batched call where possible), each
        ending before the first of ``params.stop`` (:func:`cut_at_stop`)."""

    #: Async :meth:`generate`: runs it in the default executor so the event loop never blocks.
    agenerate = in_executor(generate)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free what the backend holds (idempotent); the default has nothing to free."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def context_window(self) -> int | None:
        """Most tokens (prompt + reply) the model takes, or ``None`` when unknown."""
        return None

    def count_tokens(self, conversation: Sequence[ChatMessage]) -> int | None:
        """Tokens the rendered conversation takes, or ``None`` when the backend cannot tell."""
        return None

    def choice_logprobs(
        self, conversations: Sequence[Sequence[ChatMessage]], choices: Sequence[str]
    ) -> list[list[float]] | None:
        """Log-probability of each single-token ``choice`` as the first reply token, or ``None`` if unsupported."""
        return None
