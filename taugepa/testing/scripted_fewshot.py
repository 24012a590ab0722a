"""Scripted models for the `fewshot` component: an agent that learns from worked examples,
and a reflection model that writes them.

- `scripted-fewshot-agent` plays `scripted-wiki-agent`, except that it also performs a write
  when the worked examples after the wiki (`taugepa.episode.agent_policy`'s block) show a
  call to that tool (`Agent calls tool(`): a demonstration teaches it as a rule does.
- `scripted-fewshot-reflector` plays `scripted-reflector`; given the fewshot component's
  prompt, it keeps the current examples and adds one for each write the records say the
  agent never called, drawn from the record of that training task (its id in the heading,
  its gold call in the body).

Plumbing, not intelligence: with them, `--components wiki+fewshot` must raise the score
through the demonstrations, and the demonstrations name only the tasks the records showed.
"""

from __future__ import annotations

import re
from typing import Any

from taugepa.episode.agent_policy import FEWSHOT_HEADING
from taugepa.episode.fewshot import NO_DEMONSTRATIONS, Demonstration, parse_block, render_block
from taugepa.testing.scripted_models import ScriptedModels, offered_tools
from taugepa.testing.scripted_optimizer import reflector, rule_sentence
from taugepa.world.engine import write_tool_names

FEWSHOT_AGENT_MODEL = "scripted-fewshot-agent"
FEWSHOT_REFLECTION_MODEL = "scripted-fewshot-reflector"
# How taugepa.optimize.fewshot_seed's reflection prompt starts.
_FEWSHOT_PROMPT = "You maintain the worked examples"
_NEVER_CALLED = re.compile(r"never called (\w+)\(")
_RECORD = re.compile(r"^# Example \d+$", re.M)
_TASK_ID = re.compile(r"^#+ task_id\n(\S+)", re.M)


def demonstrated_tools(system_prompt: str) -> set[str]:
    """The tools the worked examples of a system prompt show being called."""
    _, found, block = system_prompt.partition(FEWSHOT_HEADING)
    return set(re.findall(r"Agent calls (\w+)\(", block)) if found else set()


def fewshot_agent(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    messages = body.get("messages") or []
    system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    shown = demonstrated_tools(system)
    task = models.task_of(messages)
    writes = write_tool_names()
    plan = None
    if task is not None:
        known = shown | {name for name in writes if rule_sentence(name) in system}
        plan = [a for a in task.actions if a.name not in writes or a.name in known]
    return models._agent(
        messages, digest, plan=plan, confirm=True, offered=offered_tools(body)
    )  # asks before each write


def fewshot_reflector(models: ScriptedModels, body: dict[str, Any], digest: str) -> dict[str, Any]:
    messages = body.get("messages") or []
    prompt = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
    if _FEWSHOT_PROMPT not in prompt:
        return reflector(models, body, digest)
    blocks = prompt.split("```")
    current = blocks[1].strip("\n") if len(blocks) > 2 else ""
    records = blocks[3] if len(blocks) > 4 else ""
    demonstrations = list(parse_block(current.replace(NO_DEMONSTRATIONS, "")))
    shown = {tool for demo in demonstrations for tool in re.findall(r"Agent calls (\w+)\(", demo.text)}
    writes = write_tool_names()
    for record in _RECORD.split(records):
        task_id = _TASK_ID.search(record)
        for tool in dict.fromkeys(_NEVER_CALLED.findall(record)):
            if tool not in writes or tool in shown or task_id is None:
                continue
            gold = next((line for line in record.splitlines() if line.startswith(tool + "(")), f"{tool}()")
            text = (
                f"Customer: I would like the change that needs {tool}.\n"
                f"Agent: I can do that. Let me make the change you asked for.\n"
                f"Agent calls {gold}\nAgent: It is done."
            )
            demonstrations.append(Demonstration(task_id.group(1), text))
            shown.add(tool)
    new_text = render_block(tuple(demonstrations)) or NO_DEMONSTRATIONS
    return {"role": "assistant", "content": f"Here are the new examples:\n```\n{new_text}\n```"}


FEWSHOT_MODELS = {FEWSHOT_AGENT_MODEL: fewshot_agent, FEWSHOT_REFLECTION_MODEL: fewshot_reflector}
