"""Scripted models for testing the optimizer's plumbing (not its intelligence).

- `scripted-wiki-agent` plays a task's gold actions like `scripted-agent`, except that it
  performs a write action only if its system prompt (the wiki) contains the rule sentence
  for that tool (`rule_sentence`); otherwise it leaves that write out, so the episode fails
  with feedback naming the write it never made.
- `scripted-reflector` plays GEPA's reflection model: it reads the current wiki from the
  first fenced block of the prompt, finds the write tools the reflective records say the
  agent never called, and answers with the wiki plus the missing rule sentences.

With both, an optimization run must raise the validation score: each accepted candidate
teaches the agent one more kind of write. A real improvement needs real models.
"""

from __future__ import annotations

import re
from typing import Any

from taugepa.testing.scripted_models import ScriptedModels
from taugepa.world.engine import write_tool_names

WIKI_AGENT_MODEL = "scripted-wiki-agent"
REFLECTION_MODEL = "scripted-reflector"
_NEVER_CALLED = re.compile(r"(?:never called|expected) (\w+)\(")


def rule_sentence(tool: str) -> str:
    """The wiki sentence that lets the scripted agent perform `tool`."""
    return f"When the customer's request calls for it and they confirm, use {tool} exactly as they asked."


def wiki_agent(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    messages = body.get("messages") or []
    wiki = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    task = models.task_of(messages)
    writes = write_tool_names()
    plan = None
    if task is not None:
        plan = [a for a in task.actions if a.name not in writes or rule_sentence(a.name) in wiki]
    return models._agent(messages, digest, plan=plan)


def reflector(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    messages = body.get("messages") or []
    prompt = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
    blocks = prompt.split("```")
    wiki = blocks[1].strip("\n") if len(blocks) > 2 else ""
    missing = [
        name
        for name in dict.fromkeys(_NEVER_CALLED.findall(prompt))
        if name in write_tool_names() and rule_sentence(name) not in wiki
    ]
    new_wiki = "\n".join([wiki, *(rule_sentence(name) for name in missing)])
    return {"role": "assistant", "content": f"Here is the improved policy:\n```\n{new_wiki}\n```"}


EXTRA_MODELS = {WIKI_AGENT_MODEL: wiki_agent, REFLECTION_MODEL: reflector}
