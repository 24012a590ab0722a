"""What the reflection model proposes, checked before GEPA builds a candidate from it.

An empty answer, one of whitespace only or an empty fenced block is no proposal: GEPA would
build a candidate with no wiki text and the run would stop on it (and, the answer cached,
stop again on every resume). A proposal longer than `--max-wiki-chars` would grow the
candidates past what the agent's context (and `pytest --wiki`) takes. Both are failed
proposals: refused with a reason that is logged and counted, never cached as an answer, and
the search goes on; `EMPTY_IN_A_ROW` empty ones in a row stop the run (the reflection model
is not answering), which a rerun of the same command resumes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_WIKI_CHARS = 40_000  # about 10,000 tokens: well under any current agent model's context
EMPTY_IN_A_ROW = 3

log = logging.getLogger("taugepa")


class FailedProposal(Exception):
    """A reflection answer that is no usable proposal; GEPA skips the iteration's candidate."""


def proposed_text(answer: str) -> str:
    """The text GEPA takes from a reflection answer (its fenced block, as GEPA extracts it)."""
    from gepa.strategies.instruction_proposal import InstructionProposalSignature

    try:
        return str(InstructionProposalSignature.output_extractor(answer).get("new_instruction", ""))
    except Exception:  # noqa: BLE001 - an answer GEPA cannot parse: judged as given
        return answer


def proposal_problem(answer: str, max_chars: int) -> tuple[str, str] | None:
    """(kind, reason) when `answer` is no usable proposal, else None."""
    text = proposed_text(answer).strip()
    if not answer.strip():
        return "empty", "the reflection model answered nothing (an empty or blank answer)"
    if not text or not text.strip("`").strip():
        return "empty", "the reflection model's answer holds no text (an empty fenced block)"
    if len(text) > max_chars:
        return "too_long", (
            f"the proposal is {len(text):,} characters, over --max-wiki-chars {max_chars:,} "
            "(raise it if the agent's context takes more)"
        )
    return None


@dataclass
class ProposalLedger:
    """The failed proposals of a run: counted, each with its reason, and the empty ones in a row."""

    max_chars: int = DEFAULT_MAX_WIKI_CHARS
    failed: list[dict[str, Any]] = field(default_factory=list)
    empty_in_a_row: int = 0
    _last_prompt: Any = None

    def check(self, prompt: Any, answer: str) -> None:
        """Raise FailedProposal for an unusable answer; a usable one resets the empty streak."""
        problem = proposal_problem(answer, self.max_chars)
        if problem is None:
            self.empty_in_a_row = 0
            self._last_prompt = None
            return
        kind, reason = problem
        again = prompt == self._last_prompt  # GEPA asks once more for the same task: one failure
        self._last_prompt = prompt
        if not again:
            self.failed.append({"kind": kind, "reason": reason, "answer_chars": len(answer)})
            if kind == "empty":
                self.empty_in_a_row += 1
            log.warning(
                "taugepa: warning: %s; the proposal is refused and the search goes on (%d failed so far)",
                reason,
                len(self.failed),
            )
        raise FailedProposal(reason)

    @property
    def stop_reason(self) -> str | None:
        if self.empty_in_a_row < EMPTY_IN_A_ROW:
            return None
        return (
            f"the reflection model gave {self.empty_in_a_row} empty proposals in a row: check "
            "--reflection-model and --reflection-base-url"
        )
