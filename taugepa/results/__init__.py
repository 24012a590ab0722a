"""From episodes to results: the scores file, pass^k, gates, comparisons, reports, rescoring.

The scores file (`scores`) is what a run leaves behind; everything here reads or writes
it. `to_evaluation_batch` turns one into a `gepa.EvaluationBatch`.
"""

from taugepa._lazy import lazy_exports

_EXPORTS = {
    "SCORES_FORMAT": "taugepa.results.scores",
    "SCORES_VERSION": "taugepa.results.scores",
    "episode_entry": "taugepa.results.scores",
    "pass_rate": "taugepa.results.scores",
    "summarize": "taugepa.results.scores",
    "build_scores": "taugepa.results.scores",
    "Scores": "taugepa.results.scores",
    "load_scores": "taugepa.results.scores",
    "to_evaluation_batch": "taugepa.results.scores",
    "run_info": "taugepa.results.scores",
    "run_header": "taugepa.results.scores",
    "write_json_atomically": "taugepa.files",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
