"""What GEPA evolves: the wiki whole or by sections, and optionally the tools' descriptions.

The candidate stays a GEPA `dict[str, str]`; `--components` decides its keys:

- `wiki`: `{"wiki": text}` (`WIKI_COMPONENT`), as before;
- `sections`: one component per section of the seed wiki, split at its `#`/`##` headings
  (`taugepa.world.policy_sections`), named `section:<slug>`, holding the section's text
  below its heading (the heading stays); the wiki the agent sees is the sections
  reassembled in the seed's order;
- `+tools`: one component per airline tool, `tool:<name>`, holding its description (the
  agent sees the candidate's descriptions; parameters never change);
- `+fewshot`: one component `fewshot`, the worked conversations shown after the wiki
  (`taugepa.episode.fewshot`), seeded from passed training episodes
  (`taugepa.optimize.fewshot_seed`); a proposal is held to the budget.

Which records a component reflects on (`reflective_dataset`): a failed episode is *about*
the gold actions the agent never completed, the writes it made, the calls that returned an
error, and the actions its policy violations name (`failure_tools`). A section gets the
failures about a write tool of its subject (its heading: "Cancel flight" ->
cancel_reservation, ...); a general section (a subject-less one, like a preamble) gets the
failures about no section's subject; `tool:X` gets the failures about X; `wiki` and
`fewshot` get all (`fewshot` with more passes: they are what demonstrations are made of).
Passes about the same tools are added for context (at most `passes`). A component that no
failure of the minibatch concerns gets no records, and GEPA proposes nothing for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from taugepa.episode.fewshot import NO_DEMONSTRATIONS, Demonstrations, fit_budget, parse_block, render_block
from taugepa.errors import ConfigError
from taugepa.optimize.fewshot_seed import FEWSHOT_PROMPT
from taugepa.optimize.proposals import DEFAULT_MAX_WIKI_CHARS
from taugepa.optimize.reflection_model import REFLECTION_PROMPT, SECTION_PROMPT, TOOL_PROMPT
from taugepa.optimize.reflection_records import reflective_records
from taugepa.protocol import PASSED
from taugepa.world.engine import get_world, write_tool_names
from taugepa.world.policy_sections import Section, join_sections, split_sections
from taugepa.world.tool_descriptions import default_tool_descriptions

WIKI_COMPONENT = "wiki"
SECTION_PREFIX = "section:"
TOOL_PREFIX = "tool:"
FEWSHOT_COMPONENT = "fewshot"
COMPONENT_MODES = (
    "wiki",
    "sections",
    "wiki+tools",
    "sections+tools",
    "wiki+fewshot",
    "sections+fewshot",
    "wiki+tools+fewshot",
    "sections+tools+fewshot",
)
FEWSHOT_PASSES = 4  # passes a fewshot reflection sees beside the failures
SELECTORS = ("round-robin", "touched", "all")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def failure_tools(entry: dict[str, Any]) -> set[str]:
    """The tools a failed episode is about (see the module's docstring)."""
    calls = [c for c in entry.get("tool_calls") or [] if c.get("executed")]
    done = {c["name"] for c in calls if not c.get("is_error")}
    tools = {a["name"] for a in entry.get("expected_actions") or [] if a["name"] not in done}
    writes = write_tool_names()
    tools.update(c["name"] for c in calls if c["name"] in writes or c.get("is_error"))
    violations = (entry.get("compliance") or {}).get("violations") or []
    tools.update(v["action"] for v in violations if v.get("action"))
    return tools


def episode_tools(entry: dict[str, Any]) -> set[str]:
    """Every tool a (passed) episode's gold or agent used."""
    gold = {a["name"] for a in entry.get("expected_actions") or []}
    return gold | {c["name"] for c in entry.get("tool_calls") or [] if c.get("executed")}


@dataclass(frozen=True)
class ComponentSet:
    """The components of one optimize run, built from the seed wiki and `--components`."""

    mode: str
    seed_wiki: str
    sections: tuple[Section, ...] = ()
    seed_descriptions: tuple[tuple[str, str], ...] = ()
    seed_fewshot: Demonstrations | None = None  # set with a +fewshot mode (may be empty)

    @classmethod
    def build(
        cls, mode: str, seed_wiki: str, wiki_path: str = "the wiki", seed_fewshot: Demonstrations = ()
    ) -> ComponentSet:
        if mode not in COMPONENT_MODES:
            raise ConfigError(f"--components must be one of {', '.join(COMPONENT_MODES)}, got {mode!r}")
        sections: tuple[Section, ...] = ()
        if mode.startswith("sections"):
            sections = tuple(split_sections(seed_wiki))
            if len(sections) < 2:
                raise ConfigError(
                    f"--components {mode} splits the wiki at its Markdown headings (# or ##), and "
                    f"{wiki_path} has none: add headings, or use --components wiki"
                )
        descriptions = tuple(sorted(default_tool_descriptions().items())) if "+tools" in mode else ()
        fewshot = tuple(seed_fewshot) if mode.endswith("+fewshot") else None
        return cls(mode, seed_wiki, sections, descriptions, fewshot)

    # ---- the candidate ---------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        wiki = [SECTION_PREFIX + s.name for s in self.sections] if self.sections else [WIKI_COMPONENT]
        fewshot = [FEWSHOT_COMPONENT] if self.seed_fewshot is not None else []
        return wiki + [TOOL_PREFIX + tool for tool, _ in self.seed_descriptions] + fewshot

    def seed_candidate(self) -> dict[str, str]:
        candidate = (
            {SECTION_PREFIX + s.name: s.body for s in self.sections}
            if self.sections
            else {WIKI_COMPONENT: self.seed_wiki}
        )
        candidate.update({TOOL_PREFIX + tool: text for tool, text in self.seed_descriptions})
        if self.seed_fewshot is not None:
            candidate[FEWSHOT_COMPONENT] = render_block(self.seed_fewshot) or NO_DEMONSTRATIONS
        return candidate

    def wiki(self, candidate: dict[str, str]) -> str:
        """The wiki the agent sees: the `wiki` component, or the sections in the seed's order."""
        if not self.sections:
            wiki = candidate.get(WIKI_COMPONENT)
        else:
            wiki = join_sections([(s.heading, candidate[SECTION_PREFIX + s.name]) for s in self.sections])
        if not wiki or not wiki.strip():
            raise ConfigError(f"the candidate has no '{WIKI_COMPONENT}' text to evaluate")
        return wiki

    def tool_descriptions(self, candidate: dict[str, str]) -> dict[str, str] | None:
        """The descriptions the agent sees (None without tool components: tau2's own)."""
        if not self.seed_descriptions:
            return None
        return {tool: candidate[TOOL_PREFIX + tool] for tool, _ in self.seed_descriptions}

    def fewshot(self, candidate: dict[str, str]) -> Demonstrations | None:
        """The demonstrations the agent sees (None without the component: the harness's own)."""
        return self.fewshot_fitted(candidate)[0]

    def fewshot_fitted(self, candidate: dict[str, str]) -> tuple[Demonstrations | None, list[str]]:
        """The candidate's demonstrations held to the budget, and why any were cut or dropped."""
        if self.seed_fewshot is None:
            return None, []
        return fit_budget(parse_block(candidate[FEWSHOT_COMPONENT].replace(NO_DEMONSTRATIONS, "")))

    def hashes(self, candidate: dict[str, str]) -> dict[str, str]:
        """Each component's sha256 (what a scores file records to reproduce a run)."""
        return {name: _sha256(candidate[name]) for name in self.names}

    def describe(self, candidate: dict[str, str] | None = None) -> dict[str, Any]:
        """The components' layout (and, given a candidate, its hashes)."""
        info: dict[str, Any] = {"mode": self.mode, "names": self.names}
        if self.sections:
            info["sections"] = [
                {
                    "name": SECTION_PREFIX + s.name,
                    "heading": s.heading.rstrip("\n"),
                    "subject": sorted(s.subject),
                }
                for s in self.sections
            ]
        if candidate is not None:
            info["sha256"] = self.hashes(candidate)
        return info

    def fingerprint(self) -> dict[str, Any] | None:
        """What a resumed run must match (None for the plain `wiki` mode, as in earlier versions)."""
        if self.mode == "wiki":
            return None
        return {"mode": self.mode, "names": self.names}

    def summary(self, selector: str) -> str:
        """The line printed before the run."""
        parts = []
        if self.sections:
            parts.append(f"{len(self.sections)} wiki sections ({', '.join(s.name for s in self.sections)})")
        else:
            parts.append("the wiki")
        if self.seed_descriptions:
            parts.append(f"{len(self.seed_descriptions)} tool descriptions")
        if self.seed_fewshot is not None:
            parts.append(f"the fewshot demonstrations ({len(self.seed_fewshot)} in the seed)")
        how = "all at once" if selector == "all" else f"one at a time ({selector})"
        return f"components {self.mode}: {' + '.join(parts)}; GEPA evolves {how}"

    # ---- what each component reflects on ---------------------------------------------------

    def subject(self, name: str) -> frozenset[str]:
        """The tools a component is about (empty: general)."""
        if name.startswith(TOOL_PREFIX):
            return frozenset({name[len(TOOL_PREFIX) :]})
        section = next((s for s in self.sections if SECTION_PREFIX + s.name == name), None)
        return section.subject if section is not None else frozenset()

    def _specific_tools(self) -> frozenset[str]:
        return frozenset().union(*(s.subject for s in self.sections))

    def concerns(self, name: str, entry: dict[str, Any], failed: bool = True) -> bool:
        """Whether the (failed, or else passed) episode concerns component `name`."""
        if name in (WIKI_COMPONENT, FEWSHOT_COMPONENT):
            return True
        tools = failure_tools(entry) if failed else episode_tools(entry)
        subject = self.subject(name)
        if subject:
            return bool(tools & subject)
        return not tools & self._specific_tools()  # a general section: what no other section is about

    def reflective_dataset(
        self, entries: Sequence[dict[str, Any]], components: Sequence[str], passes: int
    ) -> dict[str, list[dict[str, Any]]]:
        """Records per component; a component no failure concerns gets none (GEPA then skips it)."""
        dataset: dict[str, list[dict[str, Any]]] = {}
        for name in components:
            failed = [e for e in entries if e["outcome"] == "failed" and self.concerns(name, e)]
            if not failed:
                dataset[name] = []
                continue
            passed = [e for e in entries if e["outcome"] == PASSED and self.concerns(name, e, failed=False)]
            wanted = max(passes, FEWSHOT_PASSES) if name == FEWSHOT_COMPONENT else passes
            dataset[name] = reflective_records(failed + passed, passes=wanted)
        return dataset

    def reflection_templates(self, max_wiki_chars: int = DEFAULT_MAX_WIKI_CHARS) -> str | dict[str, str]:
        """GEPA's `reflection_prompt_template`: one per component (one text for `wiki`)."""
        wiki_prompt = _fill(REFLECTION_PROMPT, max_chars=f"{max_wiki_chars:,}")
        if self.mode == "wiki":
            return wiki_prompt
        templates: dict[str, str] = {}
        outline = "; ".join(f'"{s.title}"' for s in self.sections)
        for section in self.sections:
            subject = (
                "about " + ", ".join(sorted(section.subject))
                if section.subject
                else "general: it concerns every request"
            )
            templates[SECTION_PREFIX + section.name] = _fill(
                SECTION_PROMPT, outline=outline, heading=section.heading.rstrip("\n"), subject=subject
            )
        if not self.sections:
            templates[WIKI_COMPONENT] = wiki_prompt
        specs = get_world().tools
        for tool, _ in self.seed_descriptions:
            parameters = ", ".join(specs[tool].parameter_names) or "none"
            templates[TOOL_PREFIX + tool] = _fill(TOOL_PROMPT, tool=tool, parameters=parameters)
        if self.seed_fewshot is not None:
            templates[FEWSHOT_COMPONENT] = FEWSHOT_PROMPT
        return templates


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


class TouchedFirstSelector:
    """GEPA module selector: the next component, in round-robin order, that a failure of the
    minibatch concerns (plain round robin when none does), so no iteration is spent on a
    component with nothing to learn from."""

    def __init__(self, components: ComponentSet):
        self.components = components

    def __call__(
        self,
        state: Any,
        trajectories: list[Any],
        subsample_scores: list[float],
        candidate_idx: int,
        candidate: dict[str, str],
    ) -> list[str]:
        names = state.list_of_named_predictors
        pointers = state.named_predictor_id_to_update_next_for_program_candidate
        start = pointers[candidate_idx]
        failures = [e for entries in trajectories for e in entries if e["outcome"] == "failed"]
        for offset in range(len(names)):
            position = (start + offset) % len(names)
            if any(self.components.concerns(names[position], entry) for entry in failures):
                break
        else:
            position = start
        pointers[candidate_idx] = (position + 1) % len(names)
        return [names[position]]


def module_selector(selector: str, components: ComponentSet) -> str | Callable[..., list[str]]:
    """GEPA's `module_selector` for `--component-selector`."""
    if selector not in SELECTORS:
        raise ConfigError(f"--component-selector must be one of {', '.join(SELECTORS)}, got {selector!r}")
    if selector == "touched":
        return TouchedFirstSelector(components)
    return {"round-robin": "round_robin", "all": "all"}[selector]
