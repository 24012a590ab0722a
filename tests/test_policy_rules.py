"""The policy rules on real database states: each rule fires where the policy forbids, and only there."""

from __future__ import annotations

from pathlib import Path

import pytest

from taugepa.rules.catalog import check_action, check_sequence, rules_table
from taugepa.rules.registry import RULES, RuleContext
from taugepa.tasks.model import Action
from taugepa.world.engine import get_world
from taugepa.world.facts import (
    EngineState,
    booked_within_24h,
    flown_segments,
    itinerary_problems,
    segment_status,
    segments_with_status,
)
from taugepa.world.policy import Policy, load_policy


@pytest.fixture(scope="module")
def tau2_policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def v1_policy(v1_wiki: Path) -> Policy:
    return load_policy(v1_wiki)


@pytest.fixture(scope="module")
def world():
    return get_world()


def findings(world, policy, name, kwargs, user_id=None, instruction=None, before=()):
    """Findings for one action after replaying `before` on a fresh engine."""
    engine = world.new_engine()
    for action in before:
        engine.execute(action.name, action.kwargs)
    context = RuleContext(
        policy=policy, user_id=user_id, instruction=instruction, actions=(Action(name, kwargs),)
    )
    return check_action(EngineState(engine), Action(name, kwargs), context)


def rules_of(found, severity=None):
    return sorted({f.rule for f in found if severity is None or f.severity == severity})


def reservation_where(world, test):
    state = EngineState(world.new_engine())
    for rid in sorted(world.base_db.reservations):
        reservation = world.base_db.reservations[rid]
        if test(reservation, state):
            return reservation
    raise AssertionError("no reservation in the database fits")


def test_policy_facts_differ_where_the_texts_do(tau2_policy, v1_policy):
    assert tau2_policy.free_bags_per_passenger("gold", "business") == 4
    assert v1_policy.free_bags_per_passenger("gold", "business") == 3
    assert (
        tau2_policy.free_bags_per_passenger("silver", "economy")
        == 2
        == v1_policy.free_bags_per_passenger("silver", "economy")
    )
    assert tau2_policy.cabin_change_after_flown_forbidden and not v1_policy.cabin_change_after_flown_forbidden
    assert tau2_policy.label == "tau2 policy.md"


def test_every_policy_sentence_is_quoted_verbatim_from_a_policy(tau2_policy, v1_policy):
    for rule in rules_table():
        for sentence in rule["policy"]:
            assert tau2_policy.contains(sentence) or v1_policy.contains(sentence), (rule["id"], sentence)


def test_a_policy_without_the_sentence_is_quoted_as_not_found(tau2_policy):
    edited = Policy.from_text(tau2_policy.text.replace("Basic economy flights cannot be modified.", ""))
    quote = RULES["change.basic_economy"].quote(edited)
    assert quote is not None and not quote.found
    assert RULES["change.basic_economy"].quote(tau2_policy).found


def test_cancelling_a_flown_trip_is_definite(world, tau2_policy):
    # tau-bench v1 test tasks 26/27 (tau2 tasks 9/37) cancel NQNU5R, whose flights landed on May 13 and 14
    found = findings(world, tau2_policy, "cancel_reservation", {"reservation_id": "NQNU5R"})
    assert rules_of(found, "definite") == ["cancel.flown"]


def test_cancellation_grounds(world, tau2_policy):
    # H9ZU1C: economy, booked May 1, no insurance, nothing cancelled by the airline (v1 test 10)
    found = findings(world, tau2_policy, "cancel_reservation", {"reservation_id": "H9ZU1C"})
    assert rules_of(found, "definite") == ["cancel.eligibility"]

    recent = reservation_where(
        world,
        lambda r, s: (
            booked_within_24h(r)
            and not flown_segments(s, r)
            and r.cabin != "business"
            and r.insurance == "no"
        ),
    )
    assert findings(world, tau2_policy, "cancel_reservation", {"reservation_id": recent.reservation_id}) == []

    business = reservation_where(world, lambda r, s: r.cabin == "business" and not flown_segments(s, r))
    assert (
        findings(world, tau2_policy, "cancel_reservation", {"reservation_id": business.reservation_id}) == []
    )

    insured = reservation_where(
        world,
        lambda r, s: (
            r.insurance == "yes"
            and r.cabin != "business"
            and not booked_within_24h(r)
            and not flown_segments(s, r)
            and not segments_with_status(s, r, {"cancelled"})
        ),
    )
    kwargs = {"reservation_id": insured.reservation_id}
    unexplained = findings(
        world, tau2_policy, "cancel_reservation", kwargs, instruction="Cancel it, plans changed."
    )
    assert [(f.rule, f.severity) for f in unexplained] == [("cancel.eligibility", "possible")]
    assert "health or weather" in unexplained[0].policy
    sick = findings(
        world, tau2_policy, "cancel_reservation", kwargs, instruction="You are sick and cannot fly."
    )
    assert sick == []
    live = findings(world, tau2_policy, "cancel_reservation", kwargs)  # an agent's action: reason unknown
    assert rules_of(live, "possible") == ["cancel.eligibility"]


def test_basic_economy_flights_cannot_change_but_the_cabin_can(world, tau2_policy):
    reservation = reservation_where(
        world,
        lambda r, s: (
            r.cabin == "basic_economy"
            and r.flight_type == "one_way"
            and len(r.flights) == 1
            and segment_status(s, r.flights[0].flight_number, r.flights[0].date) == "available"
            and r.flights[0].date < "2024-05-29"
        ),
    )
    segment = reservation.flights[0]
    later = str(int(segment.date[-2:]) + 1).zfill(2)
    moved = [{"flight_number": segment.flight_number, "date": segment.date[:-2] + later}]
    same = [{"flight_number": segment.flight_number, "date": segment.date}]
    rid = reservation.reservation_id
    change = {"reservation_id": rid, "cabin": "basic_economy", "flights": moved, "payment_id": "x"}
    assert rules_of(findings(world, tau2_policy, "update_reservation_flights", change), "definite") == [
        "change.basic_economy"
    ]
    upgrade_and_change = {**change, "cabin": "economy"}
    assert rules_of(
        findings(world, tau2_policy, "update_reservation_flights", upgrade_and_change), "possible"
    ) == ["change.basic_economy"]
    cabin_only = {**change, "cabin": "economy", "flights": same}
    assert findings(world, tau2_policy, "update_reservation_flights", cabin_only) == []


def test_changing_the_destination_is_definite(world, tau2_policy):
    reservation = reservation_where(
        world,
        lambda r, s: (
            r.cabin == "economy"
            and r.flight_type == "one_way"
            and len(r.flights) == 1
            and segment_status(s, r.flights[0].flight_number, r.flights[0].date) == "available"
            and r.origin not in ("JFK", "LGA", "EWR")
        ),
    )
    segment = reservation.flights[0]
    other = next(
        f
        for number, f in sorted(world.base_db.flights.items())
        if f.origin == segment.origin
        and f.destination not in (segment.destination, "JFK", "LGA", "EWR")
        and f.dates[segment.date].status == "available"
    )
    change = {
        "reservation_id": reservation.reservation_id,
        "cabin": "economy",
        "flights": [{"flight_number": other.flight_number, "date": segment.date}],
        "payment_id": "x",
    }
    assert rules_of(findings(world, tau2_policy, "update_reservation_flights", change), "definite") == [
        "change.route"
    ]


def test_itineraries_must_connect(world):
    state = EngineState(world.new_engine())
    base = world.base_db
    for reservation in base.reservations.values():  # the database's own itineraries start and end right
        problems = itinerary_problems(
            state,
            reservation.flights,
            reservation.origin,
            reservation.destination,
            reservation.flight_type,
            kept=[(s.flight_number, s.date) for s in reservation.flights],
        )
        assert problems == [], (reservation.reservation_id, problems)
    hat001 = base.flights["HAT001"]  # PHL -> LGA
    broken = [
        {"flight_number": "HAT001", "date": "2024-05-20"},
        {"flight_number": "HAT001", "date": "2024-05-20"},
    ]
    kinds = {
        kind for kind, _ in itinerary_problems(state, broken, hat001.origin, hat001.destination, "one_way")
    }
    assert "connect" in kinds


def test_bag_fees_follow_membership_and_cabin(world, tau2_policy, v1_policy):
    # HXDUBJ: a gold member's economy reservation; v1 test 23 charges for 2 bags the allowance makes free
    kwargs = {"reservation_id": "HXDUBJ", "total_baggages": 2, "nonfree_baggages": 2, "payment_id": "x"}
    found = findings(world, tau2_policy, "update_reservation_baggages", kwargs)
    assert rules_of(found, "definite") == ["bags.fee"]
    assert "gold member" in found[0].policy and "$100 where $0 is due" in found[0].message
    assert (
        findings(world, tau2_policy, "update_reservation_baggages", {**kwargs, "nonfree_baggages": 0}) == []
    )
    methods = world.base_db.users["yara_garcia_1905"].payment_methods
    card = next(k for k, m in sorted(methods.items()) if m.source != "certificate")
    add_two = Action("update_reservation_baggages", {**kwargs, "nonfree_baggages": 0, "payment_id": card})
    fewer = {"reservation_id": "HXDUBJ", "total_baggages": 1, "nonfree_baggages": 0, "payment_id": card}
    removed = findings(world, tau2_policy, "update_reservation_baggages", fewer, before=[add_two])
    assert rules_of(removed, "definite") == ["bags.remove"]

    # a gold member booking business with 4 bags for one passenger: free under tau2, one paid under v1
    user = next(u for _, u in sorted(world.base_db.users.items()) if u.membership == "gold")
    booking = {
        "user_id": user.user_id,
        "origin": "PHL",
        "destination": "LGA",
        "flight_type": "one_way",
        "cabin": "business",
        "flights": [{"flight_number": "HAT001", "date": "2024-05-20"}],
        "passengers": [{"first_name": "A", "last_name": "B", "dob": "1990-01-01"}],
        "payment_methods": [],
        "total_baggages": 4,
        "nonfree_baggages": 0,
        "insurance": "no",
    }
    assert rules_of(findings(world, tau2_policy, "book_reservation", booking)) == []
    assert rules_of(findings(world, v1_policy, "book_reservation", booking), "definite") == ["bags.fee"]
    assert rules_of(findings(world, v1_policy, "book_reservation", {**booking, "nonfree_baggages": 1})) == []


def test_rules_see_the_state_earlier_actions_left(world, tau2_policy):
    # LV5MG2: a regular member's economy reservation (1 free bag); after an upgrade to business, 2 are free
    upgrade = Action(
        "update_reservation_flights",
        {
            "reservation_id": "LV5MG2",
            "cabin": "business",
            "flights": [
                {"flight_number": s.flight_number, "date": s.date}
                for s in world.base_db.reservations["LV5MG2"].flights
            ],
            "payment_id": next(
                k
                for k, m in world.base_db.users["ivan_garcia_1794"].payment_methods.items()
                if m.source == "credit_card"
            ),
        },
    )
    two_bags = {"reservation_id": "LV5MG2", "total_baggages": 2, "nonfree_baggages": 1, "payment_id": "x"}
    assert findings(world, tau2_policy, "update_reservation_baggages", two_bags) == []
    after = findings(world, tau2_policy, "update_reservation_baggages", two_bags, before=[upgrade])
    assert rules_of(after, "definite") == ["bags.fee"]


def test_check_sequence_runs_on_an_evolving_engine(world, tau2_policy):
    engine = world.new_engine()
    actions = [
        Action("cancel_reservation", {"reservation_id": "H9ZU1C"}),
        Action("cancel_reservation", {"reservation_id": "H9ZU1C"}),
    ]
    found, failure = check_sequence(engine, actions, RuleContext(policy=tau2_policy))
    assert failure is None
    assert [(f.action_index, f.rule, f.severity) for f in found] == [
        (0, "cancel.eligibility", "definite"),
        (1, "cancel.repeated", "defect"),
    ]
    assert engine.peek("reservations", "H9ZU1C").status == "cancelled"


def test_payment_and_passenger_limits(world, tau2_policy):
    user = world.base_db.users["mia_li_3668"]  # two certificates in the profile
    certificates = [k for k, m in sorted(user.payment_methods.items()) if m.source == "certificate"]
    person = {"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}
    booking = {
        "user_id": "mia_li_3668",
        "origin": "PHL",
        "destination": "LGA",
        "flight_type": "one_way",
        "cabin": "economy",
        "flights": [{"flight_number": "HAT001", "date": "2024-05-20"}],
        "passengers": [person],
        "payment_methods": [{"payment_id": c, "amount": 1} for c in certificates],
        "total_baggages": 0,
        "nonfree_baggages": 0,
        "insurance": "no",
    }
    assert rules_of(findings(world, tau2_policy, "book_reservation", booking), "definite") == [
        "payment.limits"
    ]
    crowd = {**booking, "payment_methods": booking["payment_methods"][:1], "passengers": [person] * 6}
    assert rules_of(findings(world, tau2_policy, "book_reservation", crowd), "definite") == [
        "passengers.limit"
    ]
    no_dob = {
        **booking,
        "payment_methods": booking["payment_methods"][:1],
        "passengers": [{**person, "dob": ""}],
    }
    assert rules_of(findings(world, tau2_policy, "book_reservation", no_dob), "definite") == [
        "passengers.details"
    ]
    other_user = findings(
        world, tau2_policy, "book_reservation", {**booking, "payment_methods": []}, user_id="x_y_1"
    )
    assert rules_of(other_user, "defect") == ["booking.user"]


def test_compensation_rules(world, tau2_policy):
    state = EngineState(world.new_engine())

    def user_where(test):
        for _, user in sorted(world.base_db.users.items()):
            reservations = [world.base_db.reservations[r] for r in user.reservations]
            if test(user, reservations):
                return user, reservations
        raise AssertionError("no user fits")

    calm, _ = user_where(
        lambda u, rs: rs and not any(segments_with_status(state, r, {"cancelled", "delayed"}) for r in rs)
    )
    found = findings(world, tau2_policy, "send_certificate", {"user_id": calm.user_id, "amount": 100})
    assert rules_of(found, "definite") == ["compensation.grounds"]

    def cancelled_only(u, rs, regular_uncovered):
        hit = [r for r in rs if segments_with_status(state, r, {"cancelled", "delayed"})]
        if len(hit) != 1 or segments_with_status(state, hit[0], {"delayed"}):
            return False
        covered = u.membership != "regular" or hit[0].insurance == "yes" or hit[0].cabin == "business"
        return covered != regular_uncovered

    member, reservations = user_where(lambda u, rs: cancelled_only(u, rs, False))
    hit = next(r for r in reservations if segments_with_status(state, r, {"cancelled"}))
    right = {"user_id": member.user_id, "amount": 100 * len(hit.passengers)}
    asked = "The airline cancelled your flight; you ask for compensation."
    assert findings(world, tau2_policy, "send_certificate", right, member.user_id, asked) == []
    wrong = {**right, "amount": right["amount"] + 50}
    assert rules_of(
        findings(world, tau2_policy, "send_certificate", wrong, member.user_id, asked), "definite"
    ) == ["compensation.amount"]
    unasked = findings(
        world, tau2_policy, "send_certificate", right, member.user_id, "Your flight was cancelled."
    )
    assert rules_of(unasked, "possible") == ["compensation.asked"]

    regular, reservations = user_where(lambda u, rs: cancelled_only(u, rs, True))
    hit = next(r for r in reservations if segments_with_status(state, r, {"cancelled"}))
    amount = {"user_id": regular.user_id, "amount": 100 * len(hit.passengers)}
    assert rules_of(findings(world, tau2_policy, "send_certificate", amount), "definite") == [
        "compensation.eligibility"
    ]
