"""The engine: tau2's tools over a copy-on-write database, validated and bounded."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest
from tau2.domains.airline.data_model import FlightDB
from tau2.domains.airline.environment import get_environment
from tau2.domains.airline.tools import AirlineTools
from tau2.domains.airline.utils import AIRLINE_DB_PATH
from tau2.utils import get_dict_hash

from taugepa.tasks.loading import load_tasks
from taugepa.world.calculator import calculate
from taugepa.world.engine import get_world

BOOKING = {
    "user_id": "mia_li_3668",
    "origin": "JFK",
    "destination": "SEA",
    "flight_type": "one_way",
    "cabin": "economy",
    "flights": [
        {"flight_number": "HAT136", "date": "2024-05-20"},
        {"flight_number": "HAT039", "date": "2024-05-20"},
    ],
    "passengers": [{"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}],
    "payment_methods": [
        {"payment_id": "certificate_7504069", "amount": 250},
        {"payment_id": "credit_card_4421486", "amount": 5},
    ],
    "total_baggages": 3,
    "nonfree_baggages": 0,
    "insurance": "no",
}


@pytest.fixture(scope="module")
def world():
    return get_world()


def test_tool_schemas_are_inlined_and_think_is_switchable(world):
    with_think = world.tool_schemas(think_tool=True)
    names = [schema["function"]["name"] for schema in with_think]
    assert "think" in names and "book_reservation" in names and len(names) == 15
    assert "$ref" not in json.dumps(with_think) and "$defs" not in json.dumps(with_think)
    without = [s["function"]["name"] for s in world.tool_schemas(think_tool=False)]
    assert "think" not in without and len(without) == 14
    engine = world.new_engine(think_tool=False)
    assert engine.call("think", {"thought": "hm"}).content.startswith("Error: Unknown tool 'think'")
    assert world.new_engine().call("think", {"thought": "hm"}).content == ""


def test_tool_errors_come_back_as_text(world):
    engine = world.new_engine()
    unknown = engine.call("delete_everything", {})
    assert unknown.is_error and unknown.content.startswith("Error: Unknown tool 'delete_everything'")
    missing = engine.call("get_reservation_details", {"reservation_id": "NOPE00"})
    assert missing.is_error and missing.content == "Error: Reservation NOPE00 not found"
    not_object = engine.call("get_user_details", ["mia_li_3668"])
    assert not_object.is_error and "must be a JSON object" in not_object.content
    extra = engine.call("get_user_details", {"user_id": "mia_li_3668", "verbose": True})
    assert extra.is_error and "Unexpected argument(s) for get_user_details: verbose" in extra.content


def test_wrong_types_are_refused_not_stored(world):
    engine = world.new_engine()
    before = engine.db_digest()
    result = engine.call(
        "update_reservation_baggages",
        {"reservation_id": "4WQ150", "total_baggages": "2", "nonfree_baggages": 0, "payment_id": "x"},
    )
    assert result.is_error and "'total_baggages']: '2' is not of type 'integer'" in result.content
    bad_cabin = engine.call("book_reservation", {**BOOKING, "cabin": "first"})
    assert bad_cabin.is_error and "'first' is not one of" in bad_cabin.content
    assert engine.db_digest() == before


def test_whole_floats_are_stored_as_ints(world):
    as_ints, as_floats = world.new_engine(), world.new_engine()
    assert not as_ints.call("book_reservation", BOOKING).is_error
    floats = {
        **BOOKING,
        "total_baggages": 3.0,
        "payment_methods": [
            {"payment_id": "certificate_7504069", "amount": 250.0},
            {"payment_id": "credit_card_4421486", "amount": 5},
        ],
    }
    assert not as_floats.call("book_reservation", floats).is_error
    assert as_ints.db_digest() == as_floats.db_digest()


@pytest.mark.parametrize(
    "expression", ["2 + 2", "(1000 - 37.5) * 3 / 7", "10 / 4", "2 ** 10", "-(3 - 5)", "7 // 2", "1.005 * 3"]
)
def test_calculate_matches_tau2(expression):
    assert calculate(expression) == AirlineTools.calculate(None, expression)


@pytest.mark.parametrize(
    "expression", ["9**9**9", "(10**100)**100", "1/0", "2 +", "abc", "9" * 2100, "(" * 300 + "1" + ")" * 300]
)
def test_calculate_refuses_what_it_cannot_do_quickly(world, expression):
    result = world.new_engine().call("calculate", {"expression": expression})
    assert result.is_error and result.content.startswith("Error: ")


def test_episodes_never_touch_the_shared_database(world, synthetic_files, v1_tasks_file):
    """Run every gold action of 506 tasks; the base database must be exactly as loaded."""
    for task in load_tasks([*map(str, synthetic_files), str(v1_tasks_file)]).tasks:
        engine = world.new_engine()
        for action in task.actions:
            engine.call(action.name, action.kwargs)
    assert get_dict_hash(world.base_db.model_dump()) == get_dict_hash(
        FlightDB.load(AIRLINE_DB_PATH).model_dump()
    )


def test_digest_agrees_with_tau2s_own_environment(world, synthetic_files, v1_tasks_file):
    """Gold replay in taugepa's engine and in a fresh tau2 environment give the same database."""
    tasks = load_tasks([*map(str, synthetic_files), str(v1_tasks_file)]).tasks
    sample = tasks[::23]  # 22 tasks across easy, medium and v1 test
    fresh_db = pickle.dumps(FlightDB.load(AIRLINE_DB_PATH))
    digests = {}
    for task in sample:
        engine, environment = world.new_engine(), get_environment(db=pickle.loads(fresh_db))
        for action in task.actions:
            ours = engine.call(action.name, action.kwargs)
            if action.name == "think":
                continue
            try:
                environment.make_tool_call(action.name, **action.kwargs)
            except Exception:
                assert ours.is_error, f"{task.id}: tau2 refused {action.name} but taugepa accepted it"
        full_hash = engine.full_db_hash()
        assert full_hash == environment.get_db_hash(), task.id
        digests.setdefault(engine.db_digest(), set()).add(full_hash)
    assert all(len(full) == 1 for full in digests.values())  # equal digests <=> equal databases
    assert len(digests) == len({h for full in digests.values() for h in full})


def test_import_is_silent_and_offline():
    code = (
        "import socket\n"
        "attempts = []\n"
        "def refuse(self, *args, **kwargs):\n"
        "    attempts.append(args)\n"
        "    raise OSError('network disabled in test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = lambda *a, **k: refuse(None, *a)\n"
        "import taugepa.world.engine, taugepa.episode.run, taugepa.results.scores, pytest_taugepa.plugin\n"
        "taugepa.world.engine.get_world().new_engine().call('get_user_details', {'user_id': 'mia_li_3668'})\n"
        "assert not attempts, attempts\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "" and completed.stderr == ""
