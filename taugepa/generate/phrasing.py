"""Natural, varied wording for generated task instructions (second person, as tau-bench's).

Every function takes the generator's seeded `random.Random`, so the same seed gives the same
words. The wording only varies how a fact is said, never the fact: whatever the agent needs
(user id, reservation, flights, passengers, bags, insurance, payment) is stated exactly.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

CITIES = {
    "SFO": "San Francisco",
    "JFK": "New York",
    "LAX": "Los Angeles",
    "ORD": "Chicago",
    "DFW": "Dallas",
    "DEN": "Denver",
    "SEA": "Seattle",
    "ATL": "Atlanta",
    "MIA": "Miami",
    "BOS": "Boston",
    "PHX": "Phoenix",
    "IAH": "Houston",
    "LAS": "Las Vegas",
    "MCO": "Orlando",
    "EWR": "Newark",
    "CLT": "Charlotte",
    "MSP": "Minneapolis",
    "DTW": "Detroit",
    "PHL": "Philadelphia",
    "LGA": "LaGuardia",
}
# Airports whose city name alone does not say which airport is meant.
_NEEDS_CODE = {"JFK", "LGA", "EWR"}

CABIN_WORDS = {"basic_economy": "basic economy", "economy": "economy", "business": "business"}

PERSONAS = (
    "You are reactive to the agent and will not say anything that is not asked.",
    "You are polite and patient, and you answer the agent's questions briefly.",
    "You are in a bit of a hurry and prefer short answers.",
    "You are friendly and chatty, but you stick to what you want.",
    "You are calm and precise, and you only share details when asked.",
    "You are a little anxious about getting this right, so you double-check what the agent says.",
    "You are direct and to the point.",
)
OPENINGS = (
    "Your user id is {user_id}.",
    "You are {name}, and your user id is {user_id}.",
    "Your user id is {user_id} (you are {name}).",
    "You are {name} (user id {user_id}).",
)


def opening(rng: random.Random, user_id: str, name: str) -> str:
    return rng.choice(OPENINGS).format(user_id=user_id, name=name)


def persona(rng: random.Random) -> str:
    return rng.choice(PERSONAS)


def place(rng: random.Random, code: str) -> str:
    """An airport as a person names it: 'Boston', 'Boston (BOS)' or 'New York (JFK)'."""
    city = CITIES.get(code, code)
    if code in _NEEDS_CODE or rng.random() < 0.5:
        return f"{city} ({code})"
    return city


def day(rng: random.Random, iso: str) -> str:
    """A flight date: 'May 20', 'May 20, 2024', '2024-05-20' or 'the 20th of May'."""
    when = date.fromisoformat(iso)
    month = when.strftime("%B")
    return rng.choice(
        (
            f"{month} {when.day}",
            f"{month} {when.day}, {when.year}",
            iso,
            f"the {ordinal(when.day)} of {month}",
        )
    )


def birth_date(rng: random.Random, iso: str) -> str:
    when = date.fromisoformat(iso)
    return rng.choice((f"{when.strftime('%B')} {when.day}, {when.year}", iso))


def ordinal(number: int) -> str:
    suffix = "th" if 11 <= number % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def money(amount: float) -> str:
    return f"${round(amount)}"


def card(rng: random.Random, method: Any) -> str:
    brand = {"visa": "Visa", "mastercard": "Mastercard"}.get(method.brand, method.brand.title())
    return rng.choice(
        (
            f"your {brand} ending in {method.last_four}",
            f"your {brand} credit card ending in {method.last_four}",
            f"the {brand} whose last four digits are {method.last_four}",
        )
    )


def gift_card(rng: random.Random, method: Any) -> str:
    return rng.choice(
        (
            f"your gift card with a balance of {money(method.amount)}",
            f"your {money(method.amount)} gift card",
            f"the gift card that has {money(method.amount)} on it",
        )
    )


def certificate(rng: random.Random, method: Any) -> str:
    return rng.choice(
        (
            f"your {money(method.amount)} travel certificate",
            f"your travel certificate worth {money(method.amount)}",
            f"the {money(method.amount)} certificate in your profile",
        )
    )


def payment_method(rng: random.Random, method: Any) -> str:
    if method.source == "credit_card":
        return card(rng, method)
    if method.source == "gift_card":
        return gift_card(rng, method)
    return certificate(rng, method)


def flights_list(rng: random.Random, legs: list[tuple[str, str]]) -> str:
    """'HAT001 on May 20 and HAT002 on May 21' (dates said once when they are the same)."""
    if len({d for _, d in legs}) == 1:
        numbers = join([n for n, _ in legs])
        return f"{numbers} on {day(rng, legs[0][1])}"
    return join([f"{n} on {day(rng, d)}" for n, d in legs])


def join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def bags(rng: random.Random, count: int) -> str:
    if count == 0:
        return rng.choice(("You have no checked bags.", "You will not check any bags.", "No checked bags."))
    noun = "bag" if count == 1 else "bags"
    return rng.choice(
        (
            f"You will check {count} {noun} in total.",
            f"You have {count} checked {noun} altogether.",
            f"There will be {count} checked {noun} for the whole reservation.",
        )
    )


def insurance(rng: random.Random, wanted: bool) -> str:
    if wanted:
        return rng.choice(
            (
                "You want travel insurance.",
                "You would like to add travel insurance.",
                "Include travel insurance.",
            )
        )
    return rng.choice(
        ("You do not want travel insurance.", "No travel insurance, please.", "You decline travel insurance.")
    )


def cabin(cabin_name: str) -> str:
    return CABIN_WORDS[cabin_name]
