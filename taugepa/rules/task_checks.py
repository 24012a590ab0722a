"""Checks on a task as a whole: free passes and what the instruction says against the gold.

These complement the per-action policy rules (`taugepa.rules.catalog`). They read the task's
instruction, which an agent never sees, so they are for audits only. Every check is meant
to be reliable rather than complete: it only flags what the text states unambiguously (card
digits that name a card, birth dates written next to a passenger's name, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from taugepa.rules.registry import DEFECT, INFO, POSSIBLE, Finding, Hit, task_rule
from taugepa.tasks.model import Action, Task
from taugepa.world.engine import write_tool_names
from taugepa.world.facts import TODAY, AirlineState
from taugepa.world.policy import Policy

REPLAY_ERROR = task_rule(
    "task.replay_error",
    "The gold actions run in the engine",
    (DEFECT,),
    note="The task is invalid: the harness reports it as skipped, never as the agent's failure.",
)
FREE_PASS = task_rule(
    "task.free_pass",
    "The task can be failed: its gold writes something or requires an output",
    (DEFECT, INFO),
    note="An agent that does nothing passes a free pass. `defect` when the user only asks for "
    "information (the answer is never checked); `info` when the user asks for a change the gold "
    "refuses (a refusal task: an agent that wrongly acts still fails it).",
)
CARD_DIGITS = task_rule(
    "instruction.card",
    "The gold pays with the card the instruction names",
    (DEFECT,),
)
TRANSFER_LAST = task_rule(
    "transfer.last",
    "Nothing is written after a transfer to a human agent (the transfer ends the conversation)",
    (DEFECT,),
    (
        "You should transfer the user to a human agent if and only if the request cannot be handled within "
        "the scope of your actions.",
    ),
)
PASSENGER_NAME = task_rule(
    "instruction.passenger",
    "Every gold passenger is named in the instruction or known from the profile",
    (DEFECT,),
    ("The agent needs to collect the first name, last name, and date of birth for each passenger.",),
)
BIRTH_DATE = task_rule(
    "instruction.birth_date",
    "Every gold birth date is the one the instruction states, or known from the profile",
    (DEFECT,),
    ("The agent needs to collect the first name, last name, and date of birth for each passenger.",),
)
STATED_ROUTE = task_rule(
    "instruction.route",
    "A gold booking flies the route the instruction states",
    (POSSIBLE,),
)

# Words that ask for a change to the database: a task with such a request whose gold writes
# nothing is a refusal task, not a mere information request.
CHANGE_REQUEST = re.compile(
    r"\b(cancel\w*|chang(?:e|ed|ing)|modif\w*|upgrad\w*|downgrad\w*|book|rebook\w*|add|added|adding|"
    r"remov\w*|refund\w*|compensat\w*|updat(?:e|ed|ing)|switch\w*|reschedul\w*|postpon\w*|mov(?:e|ed|ing))\b",
    re.IGNORECASE,
)

AIRPORTS: dict[str, tuple[str, ...]] = {
    "SFO": ("san francisco", "sf"),
    "JFK": ("new york", "nyc", "ny", "john f. kennedy", "jfk"),
    "LAX": ("los angeles", "la"),
    "ORD": ("chicago", "o'hare"),
    "DFW": ("dallas", "texas"),
    "DEN": ("denver",),
    "SEA": ("seattle",),
    "ATL": ("atlanta",),
    "MIA": ("miami",),
    "BOS": ("boston",),
    "PHX": ("phoenix",),
    "IAH": ("houston", "texas"),
    "LAS": ("las vegas", "vegas"),
    "MCO": ("orlando",),
    "EWR": ("newark", "new york", "nyc", "ny"),
    "CLT": ("charlotte",),
    "MSP": ("minneapolis",),
    "DTW": ("detroit",),
    "PHL": ("philadelphia", "philly"),
    "LGA": ("laguardia", "new york", "nyc", "ny"),
}

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)\b"),
    re.compile(
        rf"\b(?P<mon>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d\d)\b", re.I
    ),
    re.compile(
        rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{_MONTH})\.?,?\s+(?P<y>(?:19|20)\d\d)\b",
        re.I,
    ),
    re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>(?:19|20)\d\d)\b"),
)
_CARD_ENDING = re.compile(
    r"(?:ending(?:\s+(?:in|with))?|last\s+(?:four|4)(?:\s+digits)?(?:\s+(?:of|is|are))?)\s*:?\s*(\d{4})\b",
    re.IGNORECASE,
)
_FOUR_DIGITS = re.compile(r"(?<![\d$.,-])(\d{4})(?![\d,])")


def stated_dates(text: str) -> list[tuple[int, str]]:
    """(position, ISO date) of every full date (with a year) written in the text."""
    found = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            parts = match.groupdict()
            month = _MONTHS[parts["mon"].lower()] if parts.get("mon") else int(parts["m"])
            try:
                day = date(int(parts["y"]), month, int(parts["d"]))
            except ValueError:
                continue
            found.append((match.start(), day.isoformat()))
    return sorted(found)


def writes_of(task: Task) -> list[tuple[int, Action]]:
    writes = write_tool_names()
    return [(index, action) for index, action in enumerate(task.actions) if action.name in writes]


def task_findings(task: Task, state: AirlineState, policy: Policy) -> list[Finding]:
    """The task-level findings, judged against the database as the task starts."""
    findings: list[Finding] = []
    free = free_pass_finding(task, policy)
    if free is not None:
        findings.append(free)
    findings.extend(_writes_after_transfer(task, policy))
    user = state.user(task.user_id)
    if user is None:
        return findings
    for rule, check in (
        (CARD_DIGITS, _card_digits),
        (PASSENGER_NAME, _passenger_names),
        (BIRTH_DATE, _birth_dates),
        (STATED_ROUTE, _stated_route),
    ):
        for index, action, hit in check(task, state, user):
            findings.append(rule.finding(hit, policy, index, action.name))
    return findings


def free_pass_finding(task: Task, policy: Policy) -> Finding | None:
    """A finding if an agent that does nothing passes this task."""
    if writes_of(task) or task.outputs:
        return None
    request = CHANGE_REQUEST.search(task.instruction)
    if request:
        return FREE_PASS.finding(
            Hit(
                INFO,
                "the gold writes nothing and requires no output: a refusal task (the user asks for a "
                f"change: '{request.group(0)}'); an agent that does nothing passes it",
            ),
            policy,
        )
    return FREE_PASS.finding(
        Hit(
            DEFECT,
            "the gold writes nothing and requires no output, and the user only asks for information: "
            "the task checks nothing, an agent that does nothing passes it",
        ),
        policy,
    )


def _writes_after_transfer(task: Task, policy: Policy) -> list[Finding]:
    """A gold write after a transfer can never happen: tau-bench ends the episode at the transfer."""
    for index, action in enumerate(task.actions):
        if action.name != "transfer_to_human_agents":
            continue
        later = [later_index for later_index, _ in writes_of(task) if later_index > index]
        if later:
            return [
                TRANSFER_LAST.finding(
                    Hit(
                        DEFECT,
                        f"the gold transfers to a human agent at action {index}, then writes at action(s) "
                        f"{', '.join(str(i) for i in later)}, which no agent can reach",
                    ),
                    policy,
                    index,
                    action.name,
                )
            ]
    return []


def _payments(action: Action) -> list[str]:
    kwargs = action.kwargs
    if action.name == "book_reservation":
        methods = kwargs.get("payment_methods") or []
        ids = [p.get("payment_id") for p in methods if isinstance(p, dict)]
        return [payment_id for payment_id in ids if isinstance(payment_id, str)]
    payment_id = kwargs.get("payment_id")
    return [payment_id] if isinstance(payment_id, str) else []


def _card_digits(task: Task, state: AirlineState, user: Any) -> Iterable[tuple[int, Action, Hit]]:
    text = task.instruction
    cards = {pid: m for pid, m in user.payment_methods.items() if m.source == "credit_card"}
    profile_digits = {m.last_four for m in cards.values()}
    explicit = set(_CARD_ENDING.findall(text))
    named = explicit | (set(_FOUR_DIGITS.findall(text)) & profile_digits)
    if not named:
        return
    unknown = sorted(explicit - profile_digits)
    for index, action in writes_of(task):
        for payment_id in _payments(action):
            card = cards.get(payment_id)
            if card is None or card.last_four in named:
                continue
            message = (
                f"pays with {payment_id} (card ending in {card.last_four}), a card the instruction never "
                f"names (it names the card(s) ending in {', '.join(sorted(named))})"
            )
            if unknown:
                message += f" (the user has no card ending in {', '.join(unknown)})"
            yield index, action, Hit(DEFECT, message)


def _passengers(action: Action) -> list[dict[str, Any]]:
    if action.name not in ("book_reservation", "update_reservation_passengers"):
        return []
    return [p for p in action.kwargs.get("passengers") or [] if isinstance(p, dict)]


def _full_name(passenger: Any) -> str:
    if isinstance(passenger, dict):
        first, last = passenger.get("first_name", ""), passenger.get("last_name", "")
    else:
        first, last = passenger.first_name, passenger.last_name
    return f"{str(first).strip()} {str(last).strip()}".lower()


def _known_people(state: AirlineState, user: Any) -> dict[str, set[str]]:
    """Full name -> birth dates the agent can look up: the user, saved passengers, reservations."""
    people: dict[str, set[str]] = {}
    people.setdefault(_full_name(user.name.model_dump()), set()).add(user.dob)
    for passenger in user.saved_passengers:
        people.setdefault(_full_name(passenger), set()).add(passenger.dob)
    for rid in user.reservations:
        reservation = state.reservation(rid)
        for passenger in reservation.passengers if reservation is not None else []:
            people.setdefault(_full_name(passenger), set()).add(passenger.dob)
    return people


def _name_position(text: str, name: str) -> int | None:
    match = re.search(r"\b" + r"\s+".join(re.escape(part) for part in name.split()) + r"\b", text, re.I)
    return match.start() if match else None


def _passenger_names(task: Task, state: AirlineState, user: Any) -> Iterable[tuple[int, Action, Hit]]:
    known = _known_people(state, user)
    for index, action in writes_of(task):
        for passenger in _passengers(action):
            name = _full_name(passenger)
            if name in known or _name_position(task.instruction, name) is not None:
                continue
            yield (
                index,
                action,
                Hit(
                    DEFECT,
                    f"passenger {passenger.get('first_name')} {passenger.get('last_name')} is named "
                    "neither in "
                    "the instruction nor in the user's profile or reservations",
                ),
            )


def _previous_dob(state: AirlineState, action: Action, position: int) -> str | None:
    """The birth date of the passenger a passenger update replaces (a renamed passenger keeps it)."""
    if action.name != "update_reservation_passengers":
        return None
    reservation_id = action.kwargs.get("reservation_id")
    reservation = state.reservation(reservation_id) if isinstance(reservation_id, str) else None
    if reservation is None or position >= len(reservation.passengers):
        return None
    return reservation.passengers[position].dob


def _birth_dates(task: Task, state: AirlineState, user: Any) -> Iterable[tuple[int, Action, Hit]]:
    text = task.instruction
    # Dates in the airline's current year are flight dates, not birth dates.
    dates = [(at, day) for at, day in stated_dates(text) if day[:4] < TODAY[:4]]
    known = _known_people(state, user)
    for index, action in writes_of(task):
        for position, passenger in enumerate(_passengers(action)):
            name, dob = _full_name(passenger), str(passenger.get("dob") or "")
            label = f"{passenger.get('first_name')} {passenger.get('last_name')}"
            known_dobs = known.get(name, set()) | {_previous_dob(state, action, position)}
            where = _name_position(text, name)
            near = [day for at, day in dates if where is not None and 0 <= at - where <= 120]
            if dob in known_dobs or (dob in {day for _, day in dates} and (not near or dob in near)):
                continue
            if near:
                message = f"the instruction gives {label}'s birth date as {near[0]}, the gold uses {dob!r}"
            elif known.get(name):
                message = (
                    f"the user's profile or reservations give {label}'s birth date as "
                    f"{', '.join(sorted(known[name]))}, the gold uses {dob!r} (not stated in the instruction)"
                )
            else:
                message = (
                    f"{label}'s birth date {dob!r} is stated neither in the instruction nor in the user's "
                    "profile or reservations"
                )
            yield index, action, Hit(DEFECT, message)


def _airport_mentions(text: str) -> list[tuple[int, int, frozenset[str]]]:
    """(start, end, airport codes) of each place the text names."""
    aliases: dict[str, set[str]] = {}
    for code, names in AIRPORTS.items():
        aliases.setdefault(code.lower(), set()).add(code)
        for alias in names:
            aliases.setdefault(alias, set()).add(code)
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(a) for a in sorted(aliases, key=len, reverse=True)) + r")\b", re.I
    )
    mentions = []
    for match in pattern.finditer(text):
        word = match.group(1)
        if word.lower() == "la" and not word.isupper():
            continue  # "LA" only as a written abbreviation, not the French article
        mentions.append((match.start(), match.end(), frozenset(aliases[word.lower()])))
    return mentions


def stated_routes(text: str) -> list[tuple[frozenset[str], frozenset[str]]]:
    """(origin airports, destination airports) for each 'from X to Y' the text states.

    A place may be named by several adjacent mentions ("New York (JFK)", "New York LaGuardia"):
    they narrow each other down.
    """
    mentions = _airport_mentions(text)
    routes = []
    for keyword in re.finditer(r"\bfrom\b", text, re.I):
        origin = _place_at(text, mentions, keyword.end())
        if origin is None:
            continue
        to = re.match(r"\s*,?\s*to\b", text[origin[0] :])
        if not to:
            continue
        destination = _place_at(text, mentions, origin[0] + to.end())
        if destination is not None:
            routes.append((origin[1], destination[1]))
    return routes


def _place_at(
    text: str, mentions: list[tuple[int, int, frozenset[str]]], start: int
) -> tuple[int, frozenset[str]] | None:
    """The place named right after `start`: (end of its mentions, airports), or None."""
    codes: frozenset[str] | None = None
    position = start
    for begin, end, airports in mentions:
        if begin < position:
            continue
        if text[position:begin].strip(" ()-,") or begin - position > 6:
            break
        narrowed = airports if codes is None else codes & airports
        if not narrowed:
            break
        codes, position = narrowed, end
        if text[position : position + 1] == ")":
            position += 1
    return (position, codes) if codes else None


def _stated_route(task: Task, state: AirlineState, user: Any) -> Iterable[tuple[int, Action, Hit]]:
    routes = stated_routes(task.instruction)
    if not routes:
        return
    for index, action in writes_of(task):
        if action.name != "book_reservation":
            continue
        origin, destination = action.kwargs.get("origin"), action.kwargs.get("destination")
        if any(origin in a and destination in b for a, b in routes):
            continue
        stated = "; ".join(f"{'/'.join(sorted(a))} to {'/'.join(sorted(b))}" for a, b in routes)
        yield (
            index,
            action,
            Hit(
                POSSIBLE, f"books {origin} to {destination}, but the instruction states the route(s) {stated}"
            ),
        )
