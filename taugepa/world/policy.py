"""The airline policy in force: its text, and the facts the rules read from it.

Two policies matter: tau2's `policy.md` (the engine's default) and tau-bench v1's `wiki.md`
(the synthetic tasks were written against it). They state the same rules in different words
and differ in two facts: a gold member's free bags in business (tau2: 4, v1: 3), and tau2's
extra sentence that a cabin cannot be changed once any flight of the reservation has flown.
Those facts are read from the text itself, so an edited policy is audited as written; the
sentences a finding quotes are looked up in the text so a report never cites a sentence the
policy does not contain without saying so.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from taugepa.errors import ConfigError
from taugepa.guards.limits import MAX_WIKI_BYTES
from taugepa.guards.safe_json import read_text_file
from taugepa.world.facts import CABINS, MEMBERSHIPS

# tau2's table, the fallback when a policy text states no allowance.
DEFAULT_FREE_BAGS = {
    "regular": {"basic_economy": 0, "economy": 1, "business": 2},
    "silver": {"basic_economy": 1, "economy": 2, "business": 3},
    "gold": {"basic_economy": 2, "economy": 3, "business": 4},
}
CABIN_AFTER_FLOWN = "Cabin cannot be changed if any flight in the reservation has already been flown."

_MEMBER_BLOCK = re.compile(
    r"If the booking user is an? (regular|silver|gold) member[:,]?"
    r"(.*?)(?=If the booking user is|Each extra baggage|$)",
    re.IGNORECASE | re.DOTALL,
)
_ALLOWANCE = re.compile(
    r"(\d+) free checked bags? for each (basic economy|economy|business) passenger", re.IGNORECASE
)


def normalize(text: str) -> str:
    """Text for matching quotes: no markdown emphasis or list markers, one space, lower case."""
    text = text.replace("**", "").replace("`", "")
    text = re.sub(r"(?m)^\s*[-*]\s+", " ", text)
    return re.sub(r"\s+", " ", text).strip().lower()


@dataclass(frozen=True)
class Quote:
    """A policy sentence a finding rests on, and whether the policy in force contains it."""

    text: str
    found: bool


@dataclass(frozen=True)
class Policy:
    """A policy text and the facts read from it."""

    text: str
    path: str = "<text>"
    free_bags: dict[str, dict[str, int]] = field(default_factory=lambda: DEFAULT_FREE_BAGS)
    free_bags_stated: bool = True
    allowance_sentences: dict[str, str] = field(default_factory=dict)
    cabin_change_after_flown_forbidden: bool = False
    _normalized: str = field(default="", repr=False, compare=False)

    @classmethod
    def from_text(cls, text: str, path: str = "<text>") -> Policy:
        if not text.strip():
            raise ConfigError(f"policy file {path} is empty: pass the airline policy text the tasks follow")
        free_bags, sentences = _parse_allowance(text)
        normalized = normalize(text)
        return cls(
            text=text,
            path=path,
            free_bags=free_bags or DEFAULT_FREE_BAGS,
            free_bags_stated=bool(free_bags),
            allowance_sentences=sentences,
            cabin_change_after_flown_forbidden=normalize(CABIN_AFTER_FLOWN) in normalized,
            _normalized=normalized,
        )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def label(self) -> str:
        """A short name for reports: the file name, or which shipped policy it is."""
        if self.sha256 == _tau2_policy_sha256():
            return "tau2 policy.md"
        return Path(self.path).name

    def contains(self, sentence: str) -> bool:
        return normalize(sentence) in self._normalized

    def quote(self, candidates: Sequence[str]) -> Quote:
        """The first candidate sentence this policy contains; else the first, marked not found."""
        for candidate in candidates:
            if self.contains(candidate):
                return Quote(candidate, True)
        return Quote(candidates[0], False)

    def free_bags_per_passenger(self, membership: str, cabin: str) -> int:
        return self.free_bags.get(membership, DEFAULT_FREE_BAGS["regular"]).get(cabin, 0)

    def allowance_quote(self, membership: str) -> Quote:
        sentence = self.allowance_sentences.get(membership)
        if sentence:
            return Quote(sentence, True)
        table = DEFAULT_FREE_BAGS[membership]
        fallback = (
            f"If the booking user is a {membership} member: {table['basic_economy']} free checked bag for "
            f"each basic economy passenger, {table['economy']} for each economy passenger, "
            f"{table['business']} for each business passenger. Each extra baggage is 50 dollars."
        )
        return Quote(fallback, False)

    def describe(self) -> dict[str, object]:
        """What the audit records about the policy it used."""
        return {
            "path": self.path,
            "label": self.label,
            "sha256": self.sha256,
            "chars": len(self.text),
            "free_bags": self.free_bags,
            "free_bags_stated": self.free_bags_stated,
            "cabin_change_after_flown_forbidden": self.cabin_change_after_flown_forbidden,
        }


def _parse_allowance(text: str) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """The free-bag table and the sentence stating each membership's row, if the text has them."""
    table: dict[str, dict[str, int]] = {}
    sentences: dict[str, str] = {}
    for match in _MEMBER_BLOCK.finditer(text):
        membership = match.group(1).lower()
        row = {
            cabin.lower().replace(" ", "_"): int(count) for count, cabin in _ALLOWANCE.findall(match.group(2))
        }
        if set(row) == set(CABINS) and membership not in table:
            table[membership] = row
            lines = [line.strip(" -") for line in match.group(0).strip().splitlines() if line.strip(" -")]
            sentence = lines[0] + (" " + "; ".join(lines[1:]) if len(lines) > 1 else "")
            sentence = re.sub(r"\s+", " ", sentence).strip().rstrip(",.")
            sentences[membership] = sentence + ". Each extra baggage is 50 dollars."
    if set(table) != set(MEMBERSHIPS):
        return {}, {}
    return table, sentences


def _tau2_policy_sha256() -> str:
    from taugepa.world.engine import DEFAULT_POLICY_PATH

    global _TAU2_SHA
    if _TAU2_SHA is None:
        _TAU2_SHA = hashlib.sha256(Path(DEFAULT_POLICY_PATH).read_text().encode()).hexdigest()
    return _TAU2_SHA


_TAU2_SHA: str | None = None


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy at `path`, or tau2's airline policy (the engine's default) when None."""
    from taugepa.world.engine import DEFAULT_POLICY_PATH

    target = Path(path) if path is not None else Path(DEFAULT_POLICY_PATH)
    text = read_text_file(
        target,
        what="policy file",
        max_bytes=MAX_WIKI_BYTES,
        hint=" (pass --wiki PATH to the airline policy)",
    )
    return Policy.from_text(text, str(path) if path is not None else str(target))


def read_wiki(path: Path) -> str:
    """The wiki text; a missing, unreadable, empty or oversized file is a ConfigError.

    Read through `taugepa.guards.safe_json.read_text_file`: at most `MAX_WIKI_BYTES` (so `--wiki
    /dev/zero` is refused, not read), UTF-8, and made safe to store.
    """
    text = read_text_file(
        path,
        what="wiki file",
        max_bytes=MAX_WIKI_BYTES,
        hint=" (pass --wiki PATH to a policy text file)",
    )
    if not text.strip():
        raise ConfigError(f"wiki file {path} is empty: the agent needs the policy text")
    return text
