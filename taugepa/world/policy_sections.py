"""A policy text split at its Markdown headings into named sections, and what each is about.

Why: `taugepa optimize --components sections` evolves the wiki one section at a time and
shows each section the failures that concern it; the section-aware scripted agent of the
tests reads a write's rule from the section about that write. Both use this one split.

- A section starts at a level-1 or level-2 heading (`#`, `##`) outside fenced code; deeper
  headings stay inside their section. Text before the first heading is the `preamble`.
- Joining the sections (`join_sections`) gives back the text byte for byte.
- A section's *subject* is the set of write tools it is about, read from its heading
  (`SUBJECT_KEYWORDS`: "Cancel flight" -> cancel_reservation, "Modify flight" -> the three
  update tools, "Refunds and Compensation" -> send_certificate, ...) plus any write tool
  named in the section. A section with an empty subject is general.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from taugepa.world.engine import write_tool_names

PREAMBLE = "preamble"
_HEADING = re.compile(r"^(#{1,2})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")

_UPDATES = ("update_reservation_flights", "update_reservation_baggages", "update_reservation_passengers")
# Words of a heading (lower case, matched as word starts) -> the write tools the section is about.
SUBJECT_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("book", ("book_reservation",)),
    ("cancel", ("cancel_reservation",)),
    ("modif", _UPDATES),
    ("change", _UPDATES),
    ("cabin", ("update_reservation_flights",)),
    ("bag", ("update_reservation_baggages",)),
    ("passenger", ("update_reservation_passengers",)),
    ("compensat", ("send_certificate",)),
    ("certificate", ("send_certificate",)),
    ("refund", ("send_certificate",)),
)


@dataclass(frozen=True)
class Section:
    """One section: its component name, heading line ("" for the preamble) and body."""

    name: str
    heading: str
    body: str
    subject: frozenset[str]

    @property
    def title(self) -> str:
        """The heading without its `#` marks ("preamble" for the text before any heading)."""
        match = _HEADING.match(self.heading)
        return match.group(2) if match else PREAMBLE


def heading_subject(heading: str, body: str = "") -> frozenset[str]:
    """The write tools a section with this heading (and body) is about."""
    words = re.findall(r"[a-z]+", heading.lower())
    tools = {
        tool
        for keyword, targets in SUBJECT_KEYWORDS
        if any(word.startswith(keyword) for word in words)
        for tool in targets
    }
    text = f"{heading}\n{body}"
    tools.update(tool for tool in write_tool_names() if tool in text)
    return frozenset(tools)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def split_sections(text: str) -> list[Section]:
    """The text's sections in order (one `preamble` section if it has no `#`/`##` heading)."""
    chunks: list[list[str]] = [[]]
    headings = [""]
    fenced = False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and _HEADING.match(line.rstrip("\n")):
            chunks.append([])
            headings.append(line)
            continue
        chunks[-1].append(line)
    sections: list[Section] = []
    used: set[str] = set()
    for heading_line, lines in zip(headings, chunks, strict=True):
        body = "".join(lines)
        if not heading_line and not body:
            continue  # no preamble
        heading = heading_line.rstrip("\n")
        match = _HEADING.match(heading)
        name = _slug(match.group(2)) if match else PREAMBLE
        unique, number = name, 2
        while unique in used:
            unique, number = f"{name}-{number}", number + 1
        used.add(unique)
        newline = heading_line[len(heading) :]
        sections.append(
            Section(unique, heading + newline if heading else "", body, heading_subject(heading, body))
        )
    return sections


def join_sections(parts: Sequence[tuple[str, str]]) -> str:
    """(heading line, body) pairs back into one text; exact for what `split_sections` made.

    A body that does not end with a newline (an edited one) gets a blank line after it, so
    the next heading still starts a line of its own.
    """
    out: list[str] = []
    for position, (heading, body) in enumerate(parts):
        if heading:
            out.append(heading if heading.endswith("\n") else heading + "\n")
        out.append(body)
        if position < len(parts) - 1 and body and not body.endswith("\n"):
            out.append("\n\n")
    return "".join(out)


def section_about(sections: Iterable[Section], tool: str) -> Section | None:
    """The first section whose subject includes `tool` (None if none is about it)."""
    return next((section for section in sections if tool in section.subject), None)
