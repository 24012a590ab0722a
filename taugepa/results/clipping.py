"""Long texts clipped in the scores file, so that one huge tool argument cannot bloat it.

A model can send a 10 MB argument or reply; the transcript, the tool-call record and the
tool's error message would each store it again (four copies, 40 MB for one episode). Every
string of an episode entry longer than `CLIP_ABOVE` characters is therefore stored as its
first `CLIP_KEEP` characters and a note with its full length and sha256. Verdicts,
efficiency and compliance are computed on the full text before the entry is made.
"""

from __future__ import annotations

import hashlib
from typing import Any

CLIP_ABOVE = 64 * 1024
CLIP_KEEP = 2000


def clip_text(text: str) -> str:
    if len(text) <= CLIP_ABOVE:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()
    return f"{text[:CLIP_KEEP]}…[clipped by taugepa: {len(text):,} characters in all, sha256 {digest}]"


def clip_texts(value: Any) -> Any:
    """`value` (JSON-like) with every long string and key clipped; in place where it can be."""
    if isinstance(value, str):
        return clip_text(value)
    stack = [value] if isinstance(value, dict | list) else []
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    if len(item) > CLIP_ABOVE:
                        node[index] = clip_text(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
            continue
        for key in [k for k in node if isinstance(k, str) and len(k) > CLIP_ABOVE]:
            node[clip_text(key)] = node.pop(key)
        for key, item in node.items():
            if isinstance(item, str):
                if len(item) > CLIP_ABOVE:
                    node[key] = clip_text(item)
            elif isinstance(item, dict | list):
                stack.append(item)
    return value
