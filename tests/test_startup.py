"""What a run pays for before its first episode and after its last: imports, caches, the scores file.

Speed itself is measured by `scripts/bench_command.py`, never here; these tests check the
properties the speed rests on: which libraries a run imports, that tau2 comes without
deepdiff and pandas, that the on-disk caches (tool catalog, audits, bytecode) give exactly
what computing afresh gives and are never stale, and that the scores file spliced from
pre-encoded episodes is byte for byte the plain JSON dump.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest

from taugepa._imports import CachedSourceLoader
from taugepa.results.passk import CONFIDENCE_LEVEL, Z_975, wilson_interval
from taugepa.results.scores import encode_episode, scores_text
from taugepa.rules.audit import audit_task
from taugepa.rules.audit_cache import AuditCache
from taugepa.tasks.loading import load_tasks
from taugepa.world.engine import AirlineWorld, get_world
from taugepa.world.policy import Policy, load_policy
from taugepa.world.tau2_airline import build_tool_catalog, inline_refs, tau2, tool_catalog

REPO = Path(__file__).resolve().parent.parent
# pydantic is not among them: the typed loaders (task, scores, audit files) validate with it, and
# every process that runs an episode needs it anyway (tau2's models, the openai SDK's types).
HEAVY = ("tau2", "deepdiff", "pandas", "numpy", "scipy", "matplotlib", "openai", "jsonschema")


def run_python(code: str, cache_dir: Path, **env: str) -> dict:
    """Run `code` in a fresh interpreter; it prints a JSON document as its last line."""
    environment = {**os.environ, "TAUGEPA_CACHE_DIR": str(cache_dir), **env}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


LOADED = "import json, sys; print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))"


def test_starting_a_benchmark_and_summing_it_up_import_no_heavy_library(tmp_path):
    code = (
        "import pytest_taugepa.plugin, pytest_taugepa.reporter\n"
        "from taugepa.tasks.loading import load_tasks\n"
        "from taugepa.world.engine import get_world\n"
        "from taugepa.results.scores import summarize\n"
        "tasks = load_tasks(['taugepa-airline', 'tau2-airline']).tasks\n"
        "world = get_world(); world.tool_schemas(); world.new_engine().db_digest()\n"
        "entry = {'task_id': 't', 'trial': 0, 'group': 'g', 'gold_action_names': [], 'outcome': 'passed'}\n"
        "summarize([entry])\n" + LOADED
    )
    run_python(code, tmp_path)  # the first process fills the tool catalog cache
    loaded = set(run_python(code, tmp_path))
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_the_llm_client_loads_the_sdk_without_its_aiohttp_transport_and_leaves_aiohttp_usable(tmp_path):
    """aiohttp is installed (tau2 -> litellm -> aiohttp); the SDK would import it for a transport
    taugepa never uses, between a benchmark's start and its first request."""
    code = (
        "import json, sys\n"
        "from taugepa.llm.config import Endpoint\n"
        "from taugepa.llm.client import ChatClient\n"
        "client = ChatClient(Endpoint(base_url='http://127.0.0.1:9/v1', api_key_env='K', timeout=5.0,"
        " max_retries=0, retry_delay=0.0, cache_dir=None, prices=()), 'k')\n"
        "before = 'aiohttp' in sys.modules\n"
        "import aiohttp\n"
        "import openai\n"
        "print(json.dumps([before, hasattr(aiohttp, 'ClientSession'), openai.__name__,"
        " type(client._client).__name__]))"
    )
    assert run_python(code, tmp_path) == [False, True, "openai", "OpenAI"]


def test_tau2_is_imported_without_deepdiff_or_pandas_and_deepdiff_still_works(tmp_path):
    code = (
        "from taugepa.world.engine import get_world\n"
        "get_world().new_engine().call('get_user_details', {'user_id': 'mia_li_3668'})\n"
        "import json, sys\n"
        "before = sorted({m.partition('.')[0] for m in sys.modules})\n"
        "from tau2.utils.utils import show_dict_diff\n"
        "diff = show_dict_diff({'a': 1}, {'a': 2})\n"
        "import deepdiff\n"
        "print(json.dumps([before, 'values_changed' in str(diff), deepdiff.DeepDiff.__module__]))"
    )
    before, diffed, module = run_python(code, tmp_path)
    assert "tau2" in before and not {"deepdiff", "pandas", "numpy"} & set(before)
    assert diffed and module.startswith("deepdiff")  # the real one, imported when first called


def test_the_tool_catalog_is_what_tau2_gives_and_damaged_entries_are_rebuilt(tmp_path, monkeypatch):
    t = tau2()
    world = get_world()
    toolkit = t.AirlineTools(world.base_db)  # the schemas as built from the loaded database
    expected = {name: inline_refs(tool.openai_schema) for name, tool in sorted(toolkit.get_tools().items())}
    built = build_tool_catalog()
    assert built.schemas == expected and list(built.schemas) == list(expected)
    assert built == tool_catalog()
    assert [s["function"]["name"] for s in world.tool_schemas()] == [*expected, "think"]

    monkeypatch.setenv("TAUGEPA_CACHE_DIR", str(tmp_path))
    tool_catalog.cache_clear()
    try:
        assert tool_catalog() == built  # built and written
        (entry,) = (tmp_path / "world").glob("tools-*.json")
        entry.write_text("{not json")
        tool_catalog.cache_clear()
        assert tool_catalog() == built and json.loads(entry.read_text())["format"] == 1
    finally:
        tool_catalog.cache_clear()


def test_an_engine_reads_the_database_only_when_a_tool_needs_it_and_validates_only_the_rows_it_uses():
    world = AirlineWorld()
    untouched = world.new_engine()
    assert untouched.tool_schemas and untouched.is_available("think")
    assert untouched.call("think", {"thought": "no database needed"}).content == ""
    digest = untouched.db_digest()
    assert world._rows is None  # nothing so far needed the database
    reader = world.new_engine()
    assert reader.call("get_user_details", {"user_id": "mia_li_3668"}).is_error is False
    assert reader.db_digest() == digest  # reads change nothing
    users = world.rows("users")
    assert list(users._rows) == ["mia_li_3668"] and len(users) == 500  # one row validated of 500
    assert world._db is None  # episodes never need the whole database validated


def test_the_audit_cache_gives_what_auditing_gives_and_is_keyed_by_policy_and_task(tmp_path, monkeypatch):
    tasks = load_tasks(["taugepa-airline"]).tasks[:6] + load_tasks(["tau2-airline"]).tasks[:6]
    policy = load_policy()
    fresh = [audit_task(task, policy).to_dict() for task in tasks]
    assert [AuditCache(tmp_path).get(task, policy).to_dict() for task in tasks] == fresh

    def refuse(*args, **kwargs):
        raise AssertionError("audited again instead of reading the cache")

    monkeypatch.setattr("taugepa.rules.audit_cache.audit_task", refuse)
    assert [AuditCache(tmp_path).get(task, policy).to_dict() for task in tasks] == fresh  # from disk
    other = Policy.from_text(policy.text + "\nAgents must be polite.\n", "edited.md")
    with pytest.raises(AssertionError, match="audited again"):
        AuditCache(tmp_path).get(tasks[0], other)  # another policy text: another key


def test_the_spliced_scores_file_is_the_plain_json_dump():
    entries = [
        {"task_id": "a-1", "trial": 0, "outcome": "passed", "messages": [{"content": 'é\n"x"'}]},
        {"task_id": "a-2", "trial": 0, "outcome": "failed", "usage": {}, "tool_calls": [], "score": 0.0},
    ]
    scores = {"format": "taugepa-scores", "run": {"episodes": None}, "summary": {"episodes": 2}}
    scores |= {"episodes": entries, "timing": {"wall_s": 1.5}}
    plain = json.dumps(scores, ensure_ascii=False, indent=1) + "\n"
    assert scores_text(scores, [encode_episode(entry) for entry in entries]) == plain
    empty = {**scores, "episodes": []}
    assert scores_text(empty, []) == json.dumps(empty, ensure_ascii=False, indent=1) + "\n"


def test_the_wilson_interval_uses_scipys_quantile_and_normal_quantiles_for_other_levels():
    from scipy.stats import norm

    assert Z_975 == float(norm.ppf(0.5 + CONFIDENCE_LEVEL / 2))
    low, high = wilson_interval(0.6, 40, level=0.9)
    z = float(norm.ppf(0.95))
    centre = (0.6 + z * z / 80) / (1 + z * z / 40)
    assert (low + high) / 2 == pytest.approx(centre, abs=1e-12)


def test_the_bytecode_cache_loads_the_same_code_and_recompiles_an_edited_module(tmp_path, monkeypatch):
    monkeypatch.setenv("TAUGEPA_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "probe_module.py"

    def load(text: str) -> int:
        source.write_text(text)
        loader = CachedSourceLoader("probe_module", str(source))
        module = module_from_spec(spec_from_loader("probe_module", loader))
        loader.exec_module(module)
        return module.VALUE

    assert load("VALUE = 1\n") == 1 and load("VALUE = 1\n") == 1
    assert len(list((tmp_path / "cache" / "bytecode").rglob("*.bin"))) == 1
    assert load("VALUE = 2\n") == 2  # same path, new source: compiled afresh, never stale
    assert len(list((tmp_path / "cache" / "bytecode").rglob("*.bin"))) == 2


def test_pytest_neither_rewrites_nor_recompiles_taugepa_under_dont_write_bytecode(tmp_path):
    """`python -m pytest` from the checkout marks taugepa for assertion rewriting (its
    egg-info is on the path); the bytecode cache loads taugepa's modules before pytest can."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import json, sys\n"
        "def test_loaders():\n"
        "    import taugepa.episode.run\n"
        "    bootstrap = {'taugepa._imports', 'taugepa.files'}  # load before the cache exists\n"
        "    names = {type(m.__loader__).__name__ for n, m in list(sys.modules.items())\n"
        "             if n.startswith(('taugepa.', 'pytest_taugepa.')) and n not in bootstrap}\n"
        "    print('LOADERS', json.dumps(sorted(names)))\n"
    )
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TAUGEPA_CACHE_DIR": str(tmp_path / "c")}
    command = [sys.executable, "-m", "pytest", str(probe), "-q", "-s", "-p", "no:cacheprovider"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stdout + done.stderr
    loaders = json.loads(done.stdout.split("LOADERS ", 1)[1].splitlines()[0])
    assert loaders == ["CachedSourceLoader"]
    assert list((tmp_path / "c" / "bytecode").rglob("*.bin"))
