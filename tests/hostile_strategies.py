"""Hypothesis strategies for the adversarial tests: hostile JSON values and damaged documents.

Examples are few and derandomized (`HOSTILE_SETTINGS`), so the suite stays fast and every
run tries the same cases.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

HOSTILE_SETTINGS = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FILE_SETTINGS = settings(HOSTILE_SETTINGS, max_examples=60)
SURROGATE = "\ud800"
# Text a hostile file or model may send: lone surrogates, NULs, markup, long runs.
hostile_text = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Lo", "So"]), max_size=10),
    st.sampled_from(["", " ", "1.0", "NaN", SURROGATE, "a\x00b", "<script>x</script>"]),
    st.integers(65_000, 70_000).map(lambda n: "x" * n),  # past the scores file's clipping length
)
hostile_numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([7.5, -1, -0.5, 1.0000001, 1e308, 2**63, True, False]),
    st.floats(allow_nan=False, allow_infinity=False),
)
hostile_scalars = st.one_of(st.none(), hostile_text, hostile_numbers)
hostile_values = st.recursive(
    hostile_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def damaged(draw: Any, document: Any) -> Any:
    """`document` with one place replaced by a hostile value, or one key deleted."""
    damaged_document = copy.deepcopy(document)
    parent: Any = None
    key: Any = None
    node = damaged_document
    while isinstance(node, dict | list) and node and draw(st.integers(0, 3)) > 0:  # mostly deep
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, draw(st.sampled_from(keys))
        node = node[key]
    if parent is None:
        return draw(hostile_values)
    if isinstance(parent, dict) and draw(st.integers(0, 4)) == 0:
        del parent[key]
    else:
        parent[key] = draw(hostile_values)
    return damaged_document


# Raw file contents beyond JSON's values: broken syntax, deep nesting, huge numbers, NaN.
raw_hostile = st.sampled_from(
    [
        b"",
        b"\xff\xfe\x00",
        b"{not json",
        b"[" * 200_000 + b"]" * 200_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b"1" * 5_001,
        b"[NaN]",
        b"[Infinity]",
        b"[1e999]",
        b'"\\ud800"',
        json.dumps({"format": "taugepa-scores", "version": 1, "episodes": [[[[]]]]}).encode(),
    ]
)


def dumps(value: Any) -> bytes:
    """JSON as a careless writer makes it (NaN allowed, surrogates escaped)."""
    return json.dumps(value, allow_nan=True).encode()
