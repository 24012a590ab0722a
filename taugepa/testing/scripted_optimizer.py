"""Scripted models for testing the optimizer's plumbing (not its intelligence).

- `scripted-wiki-agent` plays a task's gold actions like `scripted-agent`, except that it
  performs a write action only if its system prompt (the wiki) contains the rule sentence
  for that tool (`rule_sentence`); otherwise it leaves that write out, so the episode fails
  with feedback naming the write it never made. It follows the sentence it read: a careful
  one ("... and they confirm ...") makes it list the write and ask for a yes first, a hasty
  one (`hasty_sentence`: "... at once, without asking ...") makes it write without asking,
  which breaks the policy's confirmation rule (`confirm.write`).
- `scripted-hasty-agent` is the wiki agent that never asks before a write, whichever sentence
  taught it (the scripted agents' manners before compliance counted): it buys pass rate with
  violations.
- `scripted-section-agent` is stricter about where it reads and also reads the tools: it
  performs a write only if the rule sentence stands in the wiki's section about that write
  (`taugepa.world.policy_sections`: "Cancel flight" for cancel_reservation, ...), or if the
  tool's description, as sent with the request, contains the tool's hint (`tool_hint`).
- `scripted-tempted-reflector` is the reflector that, for `cancel_reservation` only, writes the
  hasty sentence: its candidates that teach cancellations pass more tasks and break the
  policy on each of them.
- `scripted-reflector` plays GEPA's reflection model. It finds the write tools the
  reflective records say the agent never called, and answers with the text it was given
  (the first fenced block of the prompt) plus what is missing: for the whole wiki, the
  missing rule sentences appended at the end (which the section agent does not read unless
  the last section is about them); for one section (the prompt names the section's
  heading), the rule sentences of the missing writes that section is about; for one tool's
  description (the prompt names the tool), that tool's hint.

With these, an optimization run must raise the validation score: each accepted candidate
teaches the agent one more kind of write. A real improvement needs real models.
"""

from __future__ import annotations

import re
from typing import Any

from taugepa.testing.scripted_models import ScriptedModels, offered_tools
from taugepa.world.engine import write_tool_names
from taugepa.world.policy_sections import heading_subject, section_about, split_sections

WIKI_AGENT_MODEL = "scripted-wiki-agent"
HASTY_AGENT_MODEL = "scripted-hasty-agent"
SECTION_AGENT_MODEL = "scripted-section-agent"
REFLECTION_MODEL = "scripted-reflector"
TEMPTED_REFLECTION_MODEL = "scripted-tempted-reflector"
TEMPTING_TOOLS = frozenset({"cancel_reservation"})  # what the tempted reflector teaches hastily
_NEVER_CALLED = re.compile(r"(?:never called|expected) (\w+)\(")
# How taugepa.optimize.components' reflection prompts name what they show.
_SECTION_PROMPT = re.compile(r'the section headed "([^"\n]*)"')
_TOOL_PROMPT = re.compile(r"the airline tool `(\w+)`")


def rule_sentence(tool: str) -> str:
    """The wiki sentence that lets the scripted agents perform `tool`."""
    return f"When the customer's request calls for it and they confirm, use {tool} exactly as they asked."


def hasty_sentence(tool: str) -> str:
    """The wiki sentence that lets the scripted agents perform `tool` without asking first."""
    return f"Use {tool} at once when the customer asks for it, without asking them to confirm."


def tool_hint(tool: str) -> str:
    """The sentence in `tool`'s description that lets the section agent perform it."""
    return f"Call {tool} once the customer has confirmed the exact change."


def _wiki_agent(models: ScriptedModels, body: dict[str, Any], digest: str, hasty: bool) -> dict[str, Any]:
    messages = body.get("messages") or []
    wiki = _system_prompt(messages)
    task = models.task_of(messages)
    writes = write_tool_names()
    plan = None
    if task is not None:
        taught = [a for a in task.actions if a.name in writes]
        plan = [a for a in task.actions if a.name not in writes or _knows(wiki, a.name)]
        # it asks before its writes unless it is hasty or a hasty sentence taught it one of them
        hasty = hasty or any(hasty_sentence(a.name) in wiki for a in taught)
    return models._agent(messages, digest, plan=plan, confirm=not hasty, offered=offered_tools(body))


def _knows(wiki: str, tool: str) -> bool:
    return rule_sentence(tool) in wiki or hasty_sentence(tool) in wiki


def wiki_agent(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    return _wiki_agent(models, body, digest, hasty=False)


def hasty_agent(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    return _wiki_agent(models, body, digest, hasty=True)


def section_agent(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    messages = body.get("messages") or []
    sections = split_sections(_system_prompt(messages))
    descriptions = {
        str(tool.get("function", {}).get("name")): str(tool.get("function", {}).get("description") or "")
        for tool in body.get("tools") or []
    }

    def knows(tool: str) -> bool:
        section = section_about(sections, tool)
        in_section = section is not None and rule_sentence(tool) in section.body
        return in_section or tool_hint(tool) in descriptions.get(tool, "")

    task = models.task_of(messages)
    writes = write_tool_names()
    plan = None if task is None else [a for a in task.actions if a.name not in writes or knows(a.name)]
    return models._agent(messages, digest, plan=plan, confirm=True, offered=offered_tools(body))


def reflector(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    return _reflect(body, tempted=False)


def tempted_reflector(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    return _reflect(body, tempted=True)


def _reflect(body: dict[str, Any], tempted: bool) -> dict[str, Any]:
    messages = body.get("messages") or []
    prompt = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
    blocks = prompt.split("```")
    current = blocks[1].strip("\n") if len(blocks) > 2 else ""
    never_called = [
        name for name in dict.fromkeys(_NEVER_CALLED.findall(prompt)) if name in write_tool_names()
    ]
    tool = _TOOL_PROMPT.search(prompt)
    section = _SECTION_PROMPT.search(prompt)
    if tool is not None:
        name = tool.group(1)
        additions = [tool_hint(name)] if name in never_called and tool_hint(name) not in current else []
        new_text = " ".join([current, *additions])
    else:
        subject = heading_subject(section.group(1)) if section is not None else None
        sentence = {
            name: hasty_sentence(name) if tempted and name in TEMPTING_TOOLS else rule_sentence(name)
            for name in never_called
        }
        additions = [
            sentence[name]
            for name in never_called
            if (subject is None or name in subject) and sentence[name] not in current
        ]
        new_text = "\n".join([current, *additions])
    return {"role": "assistant", "content": f"Here is the improved text:\n```\n{new_text}\n```"}


def _system_prompt(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")


EXTRA_MODELS = {
    WIKI_AGENT_MODEL: wiki_agent,
    HASTY_AGENT_MODEL: hasty_agent,
    SECTION_AGENT_MODEL: section_agent,
    REFLECTION_MODEL: reflector,
    TEMPTED_REFLECTION_MODEL: tempted_reflector,
}
