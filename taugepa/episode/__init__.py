"""One episode: the agent, the simulated user and the airline tools, to a verdict.

`run_episode(task, wiki, settings)` is the only place an episode happens: the pytest plugin,
the GEPA adapter, `compare` and `rescore` all go through it (`runner.EpisodePool` runs many
on threads, `runner.run_tasks` a whole task set). `HarnessSettings` is the settings spine
every front end embeds; `options` declares the options that fill it, once. `scoring` gives
tau-bench's verdict and the feedback, `efficiency` the steps.
"""

from taugepa._lazy import lazy_exports

_EXPORTS = {
    "AGENT_KINDS": "taugepa.episode.agent_choice",
    "DEFAULT_MAX_STEPS": "taugepa.episode.settings",
    "HarnessSettings": "taugepa.episode.settings",
    "HARNESS_OPTIONS": "taugepa.episode.options",
    "TASK_OPTIONS": "taugepa.episode.options",
    "resolve_harness": "taugepa.episode.options",
    "harness_arguments": "taugepa.episode.options",
    "FinishedRun": "taugepa.episode.runner",
    "run_tasks": "taugepa.episode.runner",
    "ONE_CALL_PER_TURN": "taugepa.episode.run",
    "EpisodeResult": "taugepa.episode.run",
    "AgentFactory": "taugepa.episode.run",
    "UserFactory": "taugepa.episode.run",
    "choose_agent": "taugepa.episode.agent_choice",
    "builtin_user": "taugepa.episode.run",
    "run_episode": "taugepa.episode.run",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
