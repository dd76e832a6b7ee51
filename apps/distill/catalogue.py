"""A randomly drawn catalogue of custom tool definitions for synthetic tool-use data.

    >>> rng = random.Random(7)
    >>> tool = draw_tool(rng, TEMPLATES[0])           # a `CatalogueTool`: definition + how to ask + how to run
    >>> tool.definition.name, tool.definition.parameters["required"]
    >>> call = tool.sample_call(rng)                  # arguments, the clause that asks for them, the result

Each `ToolTemplate` is one function family (weather, circle area, currency conversion, ...): parameters of
every JSON Schema type (string, integer, number, boolean, enum, array), required and optional ones, ways to
ask for a call in words, and an `execute` that computes a result (exactly for arithmetic families,
deterministically from the arguments for look-ups). `draw_tool` turns a template into a concrete tool with a
varied name (snake_case, camelCase, a dotted module path, or a masked random name), an original or
paraphrased description (sometimes a masked, neutral one, so a model must read the parameters) and,
rarely, masked parameter names: the model is meant to read the schema, not memorise names (the function
masking of the Hammer paper, arXiv 2410.04587).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llamasys.core_model.messages import ToolDefinition

__all__ = ["CatalogueTool", "Param", "SampledCall", "TEMPLATES", "ToolTemplate", "draw_tool"]

CITIES = [
    "Paris", "Tokyo", "Nairobi", "Lima", "Oslo", "Toronto", "Mumbai", "Cairo", "Sydney", "Berlin",
    "Madrid", "Seoul", "Chicago", "Lagos", "Hanoi", "Dublin", "Quito", "Vienna", "Austin", "Manila",
    "Lisbon", "Denver", "Accra", "Prague", "Osaka", "Bogota", "Helsinki", "Perth", "Kyoto", "Boston",
]  # fmt: skip
PEOPLE = [
    "Maria Lopez", "Kenji Sato", "Amara Okafor", "Liam Walsh", "Priya Nair", "Jonas Berg", "Chen Wei",
    "Sofia Rossi", "Omar Haddad", "Emma Dubois", "Lucas Silva", "Hana Kim", "Noah Fischer", "Zara Ali",
]  # fmt: skip
TICKERS = ["ACME", "ZNTX", "QBIT", "NOVA", "GLXY", "ORBT", "PIXL", "VRDA", "KLMN", "TRLX", "HELI", "MOSS"]
CURRENCIES = ["USD", "EUR", "JPY", "GBP", "CHF", "CAD", "AUD", "INR", "BRL", "KES", "NOK", "MXN"]
LANGUAGES = ["French", "Spanish", "German", "Japanese", "Italian", "Portuguese", "Korean", "Dutch"]
DISHES = [
    "lentil soup", "chicken curry", "mushroom risotto", "pad thai", "banana bread", "falafel",
    "vegetable lasagna", "miso ramen", "shakshuka", "fish tacos", "pumpkin pie", "beef stew",
]  # fmt: skip
CUISINES = ["italian", "thai", "mexican", "indian", "japanese", "ethiopian", "greek", "korean"]
TOPICS = ["climate", "football", "elections", "space", "startups", "medicine", "music", "energy"]
BOOK_WORDS = ["river", "garden", "storm", "silent", "glass", "winter", "north", "lantern", "orchard", "tide"]
PHRASES = [
    "good morning", "where is the station", "thank you very much", "see you tomorrow", "how much is this",
    "the meeting is at noon", "I love this city", "please call me back",
]  # fmt: skip
EMAIL_DOMAINS = ["example.com", "mail.test", "corp.example", "inbox.test"]
EVENTS = [
    "team sync",
    "dentist appointment",
    "project review",
    "lunch with Sam",
    "budget meeting",
    "yoga class",
]
SPORTS_TEAMS = ["Riverton Hawks", "Lakeside United", "Port Ellis FC", "Granite City", "Northvale Rovers"]


@dataclass
class Param:
    """One parameter of a template: its name, JSON Schema, whether required, and how values are drawn.

    `sample(rng)` returns (value, words): the JSON value passed as the argument and the text that says it
    in a request. `phrase` wraps the words for optional parameters (it is appended to the clause)."""

    name: str
    schema: dict[str, Any]
    required: bool
    sample: Callable[[random.Random], tuple[Any, str]]
    phrase: str = "{}"


@dataclass
class SampledCall:
    """A concrete call: its arguments, the words asking for it, the tool's result and a grounded answer."""

    arguments: dict[str, Any]
    clause: str
    question: str
    result: dict[str, Any]
    answer: str
    answer_value: str


@dataclass
class ToolTemplate:
    """A function family; see the module docstring."""

    name: str
    description: str
    paraphrases: list[str]
    params: list[Param]
    clause: str  # a noun/verb phrase with {param} slots for required parameters ("the area of a circle ...")
    questions: list[str]  # full requests with a {clause} slot
    execute: Callable[[dict[str, Any]], dict[str, Any]]
    answer: str  # the final answer with {result key} and {param} slots
    answer_key: str  # the result key whose value the answer must contain
    verbs: list[str] = field(default_factory=list)


@dataclass
class CatalogueTool:
    """A template made concrete: the offered definition and the map to the template's parameter names."""

    template: ToolTemplate
    definition: ToolDefinition
    param_names: dict[str, str]  # template parameter name -> offered name

    @property
    def name(self) -> str:
        return self.definition.name

    def sample_call(self, rng: random.Random, *, optional_rate: float = 0.35) -> SampledCall:
        """Draw argument values, the words that ask for them, run the template, write the answer."""
        t = self.template
        values: dict[str, Any] = {}
        words: dict[str, str] = {}
        extras: list[str] = []
        for p in t.params:
            if p.required or rng.random() < optional_rate:
                value, text = p.sample(rng)
                values[p.name] = value
                words[p.name] = text
                if not p.required:
                    extras.append(p.phrase.format(text))
        clause = t.clause.format(**words) + "".join(extras)
        question = rng.choice(t.questions).format(clause=clause)
        question = question[0].upper() + question[1:]
        result = t.execute(values)
        answer = t.answer.format(**result, **words)
        arguments = {self.param_names[k]: v for k, v in values.items()}
        return SampledCall(arguments, clause, question, result, answer, str(result[t.answer_key]))


# -- value samplers ----------------------------------------------------------------------------------


def pick(options: list[str]) -> Callable[[random.Random], tuple[Any, str]]:
    return lambda rng: (lambda v: (v, v))(rng.choice(options))


def integer(lo: int, hi: int) -> Callable[[random.Random], tuple[Any, str]]:
    return lambda rng: (lambda v: (v, str(v)))(rng.randint(lo, hi))


def number(lo: float, hi: float, digits: int = 1) -> Callable[[random.Random], tuple[Any, str]]:
    def sample(rng: random.Random) -> tuple[Any, str]:
        value = round(rng.uniform(lo, hi), digits)
        return value, f"{value:g}"

    return sample


def boolean(true_words: str) -> Callable[[random.Random], tuple[Any, str]]:
    return lambda rng: (True, true_words)


def number_list(n_lo: int, n_hi: int, lo: int, hi: int) -> Callable[[random.Random], tuple[Any, str]]:
    def sample(rng: random.Random) -> tuple[Any, str]:
        values = [rng.randint(lo, hi) for _ in range(rng.randint(n_lo, n_hi))]
        return values, ", ".join(str(v) for v in values[:-1]) + f" and {values[-1]}"

    return sample


def word_list(options: list[str], n_lo: int, n_hi: int) -> Callable[[random.Random], tuple[Any, str]]:
    def sample(rng: random.Random) -> tuple[Any, str]:
        values = rng.sample(options, rng.randint(n_lo, n_hi))
        return values, ", ".join(values[:-1]) + f" and {values[-1]}"

    return sample


def email(rng: random.Random) -> tuple[Any, str]:
    person = rng.choice(PEOPLE).lower().split()
    value = f"{person[0]}.{person[1]}@{rng.choice(EMAIL_DOMAINS)}"
    return value, value


def date(rng: random.Random) -> tuple[Any, str]:
    value = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return value, value


def clock(rng: random.Random) -> tuple[Any, str]:
    value = f"{rng.randint(7, 19):02d}:{rng.choice(['00', '15', '30', '45'])}"
    return value, value


def _digest(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).digest()[:8], "big")


def looked_up(key: str, lo: float, hi: float, digits: int = 0, **fixed: Any) -> Callable[..., dict[str, Any]]:
    """A look-up result: a value derived deterministically from the arguments (the same call, the same
    answer), as a recorded back-end would give."""

    def execute(args: dict[str, Any]) -> dict[str, Any]:
        fraction = (_digest(key, args) % 10_000) / 10_000
        value = round(lo + (hi - lo) * fraction, digits)
        value = int(value) if digits == 0 else value
        return {key: value, **{k: (v(args) if callable(v) else v) for k, v in fixed.items()}}

    return execute


def S(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def I(description: str) -> dict[str, Any]:  # noqa: E743 - short schema builders read like a table
    return {"type": "integer", "description": description}


def N(description: str) -> dict[str, Any]:
    return {"type": "number", "description": description}


def B(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


def E(description: str, options: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": options, "description": description}


def A(description: str, item: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": item}, "description": description}


def _r(value: float, digits: int = 2) -> float | int:
    value = round(value, digits)
    return int(value) if float(value).is_integer() else value


ASK = ["What is {clause}?", "Can you tell me {clause}?", "I need {clause}.", "Please find {clause}."]
DO = ["Please {clause}.", "Can you {clause}?", "I'd like you to {clause}.", "{clause}, please."]

TEMPLATES: list[ToolTemplate] = [
    ToolTemplate(
        "get_current_weather", "Get the current weather for a city.",
        ["Returns present weather conditions (temperature and sky) at a location.",
         "Look up what the weather is like right now in a given city."],
        [Param("city", S("Name of the city, e.g. Paris"), True, pick(CITIES)),
         Param("unit", E("Temperature unit", ["celsius", "fahrenheit"]), False, pick(["celsius", "fahrenheit"]),
               " in {}")],
        "the current weather in {city}", ASK,
        looked_up("temperature", -5, 35, conditions=lambda a: ["sunny", "cloudy", "rainy", "windy"][len(a["city"]) % 4]),
        "It is {temperature} degrees and {conditions} in {city}.", "temperature",
    ),
    ToolTemplate(
        "get_stock_price", "Get the latest trading price of a stock by its ticker symbol.",
        ["Fetch the most recent share price for a ticker.", "Returns the last traded price of a listed company."],
        [Param("ticker", S("Stock ticker symbol, e.g. ACME"), True, pick(TICKERS)),
         Param("exchange", E("Stock exchange", ["NYSE", "NASDAQ", "LSE"]), False, pick(["NYSE", "NASDAQ", "LSE"]),
               " on the {}")],
        "the current price of {ticker} stock", ASK,
        looked_up("price", 5, 900, 2, currency="USD"), "{ticker} trades at {price} {currency}.", "price",
    ),
    ToolTemplate(
        "convert_currency", "Convert an amount of money from one currency to another.",
        ["Exchange a sum between two currencies at today's rate.", "Currency converter for a given amount."],
        [Param("amount", N("Amount of money to convert"), True, number(10, 5000, 2)),
         Param("from_currency", S("Three-letter code of the source currency"), True, pick(CURRENCIES[:6])),
         Param("to_currency", S("Three-letter code of the target currency"), True, pick(CURRENCIES[6:]))],
        "{amount} {from_currency} converted to {to_currency}", ["How much is {clause}?"] + ASK,
        looked_up("converted_amount", 1, 90000, 2), "{amount} {from_currency} is {converted_amount} {to_currency}.",
        "converted_amount",
    ),
    ToolTemplate(
        "calculate_circle_area", "Calculate the area of a circle from its radius.",
        ["Area of a circle given the radius.", "Computes pi times the radius squared."],
        [Param("radius", N("Radius of the circle"), True, number(1, 50, 1)),
         Param("unit", S("Length unit of the radius"), False, pick(["cm", "m", "inches"]), " in {}")],
        "the area of a circle with radius {radius}", ASK + ["Compute {clause}."],
        lambda a: {"area": _r(math.pi * a["radius"] ** 2)}, "The area is {area}.", "area",
    ),
    ToolTemplate(
        "calculate_rectangle_perimeter", "Calculate the perimeter of a rectangle.",
        ["Perimeter of a rectangle from its two side lengths.", "Returns 2 * (length + width)."],
        [Param("length", N("Length of the rectangle"), True, number(1, 100, 1)),
         Param("width", N("Width of the rectangle"), True, number(1, 100, 1))],
        "the perimeter of a rectangle with length {length} and width {width}", ASK,
        lambda a: {"perimeter": _r(2 * (a["length"] + a["width"]))}, "The perimeter is {perimeter}.", "perimeter",
    ),
    ToolTemplate(
        "compound_interest", "Compute the final balance of an investment with compound interest.",
        ["Future value of a deposit growing at a yearly rate, compounded a number of times per year.",
         "Calculates how much money grows to with compounding."],
        [Param("principal", N("Initial amount invested"), True, number(100, 20000, 0)),
         Param("annual_rate", N("Yearly interest rate as a decimal, e.g. 0.05"), True,
               lambda r: (lambda v: (v, f"{v:g}"))(round(r.uniform(0.01, 0.12), 3))),
         Param("years", I("Number of years"), True, integer(1, 30)),
         Param("compounds_per_year", I("How many times interest is compounded per year"), False,
               integer(1, 12), ", compounded {} times a year")],
        "the balance after {years} years for {principal} invested at a rate of {annual_rate}", ASK,
        lambda a: {"balance": _r(a["principal"] * (1 + a["annual_rate"] / a.get("compounds_per_year", 1))
                                 ** (a.get("compounds_per_year", 1) * a["years"]))},
        "The balance would be {balance}.", "balance",
    ),
    ToolTemplate(
        "calculate_bmi", "Calculate the body mass index from weight and height.",
        ["Body mass index (weight divided by height squared).", "BMI calculator."],
        [Param("weight_kg", N("Body weight in kilograms"), True, number(40, 130, 1)),
         Param("height_m", N("Height in meters"), True, number(1.4, 2.1, 2))],
        "the BMI of someone who weighs {weight_kg} kg and is {height_m} m tall", ASK,
        lambda a: {"bmi": _r(a["weight_kg"] / a["height_m"] ** 2, 1)}, "The BMI is {bmi}.", "bmi",
    ),
    ToolTemplate(
        "factorial", "Compute the factorial of a non-negative integer.",
        ["n! for an integer n.", "Product of all positive integers up to n."],
        [Param("n", I("The number"), True, integer(3, 20))],
        "the factorial of {n}", ASK + ["Compute {clause}."],
        lambda a: {"result": math.factorial(a["n"])}, "The factorial of {n} is {result}.", "result",
    ),
    ToolTemplate(
        "greatest_common_divisor", "Find the greatest common divisor of two integers.",
        ["Largest integer dividing both numbers.", "GCD of two whole numbers."],
        [Param("a", I("First integer"), True, integer(10, 999)), Param("b", I("Second integer"), True, integer(10, 999))],
        "the greatest common divisor of {a} and {b}", ASK,
        lambda a: {"gcd": math.gcd(a["a"], a["b"])}, "The greatest common divisor is {gcd}.", "gcd",
    ),
    ToolTemplate(
        "average", "Compute the arithmetic mean of a list of numbers.",
        ["Mean value of the numbers given.", "Average of a numeric list."],
        [Param("numbers", A("The numbers to average", "number"), True, number_list(3, 6, 1, 99))],
        "the average of {numbers}", ASK,
        lambda a: {"mean": _r(sum(a["numbers"]) / len(a["numbers"]))}, "The average is {mean}.", "mean",
    ),
    ToolTemplate(
        "get_distance", "Get the driving distance in kilometers between two cities.",
        ["Road distance between an origin and a destination city.", "How far it is to drive between two places."],
        [Param("origin", S("Starting city"), True, pick(CITIES[:15])),
         Param("destination", S("Destination city"), True, pick(CITIES[15:])),
         Param("avoid_tolls", B("Whether to avoid toll roads"), False, boolean("avoiding toll roads"), ", {}")],
        "the driving distance from {origin} to {destination}", ASK,
        looked_up("distance_km", 20, 4000), "It is {distance_km} km from {origin} to {destination}.", "distance_km",
    ),
    ToolTemplate(
        "search_flights", "Search for flights between two cities on a date.",
        ["Find available flights for a route and day.", "Flight search by origin, destination and date."],
        [Param("origin", S("Departure city"), True, pick(CITIES[:15])),
         Param("destination", S("Arrival city"), True, pick(CITIES[15:])),
         Param("date", S("Travel date as YYYY-MM-DD"), True, date),
         Param("cabin", E("Cabin class", ["economy", "business", "first"]), False,
               pick(["economy", "business", "first"]), " in {} class")],
        "flights from {origin} to {destination} on {date}", ["Find {clause}.", "Search for {clause}."] + ASK[2:],
        looked_up("cheapest_price", 80, 1500, flights_found=lambda a: 2 + len(a["origin"]) % 5),
        "I found flights from {origin} to {destination}; the cheapest costs {cheapest_price}.", "cheapest_price",
    ),
    ToolTemplate(
        "book_hotel", "Book a hotel room in a city for a number of nights.",
        ["Reserve accommodation for a stay.", "Makes a hotel reservation."],
        [Param("city", S("City of the hotel"), True, pick(CITIES)),
         Param("check_in", S("Check-in date as YYYY-MM-DD"), True, date),
         Param("nights", I("Number of nights"), True, integer(1, 14)),
         Param("guests", I("Number of guests"), False, integer(1, 5), " for {} guests")],
        "book a hotel in {city} from {check_in} for {nights} nights", DO,
        looked_up("confirmation_number", 100000, 999999), "Your hotel in {city} is booked, confirmation "
        "{confirmation_number}.", "confirmation_number",
    ),
    ToolTemplate(
        "find_restaurants", "Find restaurants in a city, optionally by cuisine.",
        ["Search for places to eat nearby.", "Restaurant finder for a location."],
        [Param("location", S("City to search in"), True, pick(CITIES)),
         Param("cuisine", E("Type of food", CUISINES), False, pick(CUISINES), " serving {} food"),
         Param("max_results", I("Maximum number of restaurants to return"), False, integer(2, 10), ", at most {}")],
        "restaurants in {location}", ["Find {clause}.", "Show me {clause}.", "Look for {clause}."],
        looked_up("rating", 3, 5, 1, top_pick=lambda a: f"{a['location']} Bistro"),
        "The top pick is {top_pick}, rated {rating}.", "top_pick",
    ),
    ToolTemplate(
        "translate_text", "Translate text into a target language.",
        ["Machine translation of a phrase.", "Render a sentence in another language."],
        [Param("text", S("The text to translate"), True, lambda r: (lambda v: (v, f'"{v}"'))(r.choice(PHRASES))),
         Param("target_language", S("Language to translate into"), True, pick(LANGUAGES))],
        "translate {text} into {target_language}", DO,
        lambda a: {"translation": f"[{a['target_language']}] {a['text']}"},
        "In {target_language}: {translation}", "translation",
    ),
    ToolTemplate(
        "send_email", "Send an email to a recipient.",
        ["Deliver an email message with a subject and body.", "Email someone."],
        [Param("to", S("Recipient email address"), True, email),
         Param("subject", S("Subject line"), True, pick(["Meeting notes", "Invoice", "Hello", "Schedule change"])),
         Param("cc", S("Address to copy"), False, email, ", copying {}")],
        "send an email to {to} with the subject {subject}", DO,
        looked_up("message_id", 1000, 99999, status="sent"), "Done: the email was {status} (id {message_id}).",
        "message_id",
    ),
    ToolTemplate(
        "create_calendar_event", "Create an event in the user's calendar.",
        ["Add an appointment to the calendar.", "Schedules a calendar entry."],
        [Param("title", S("Event title"), True, pick(EVENTS)), Param("date", S("Date as YYYY-MM-DD"), True, date),
         Param("start_time", S("Start time as HH:MM"), True, clock),
         Param("duration_minutes", I("Length in minutes"), False, integer(15, 120), " lasting {} minutes")],
        "add {title} to my calendar on {date} at {start_time}", DO,
        looked_up("event_id", 100, 9999), "Added {title} on {date} at {start_time} (event {event_id}).", "event_id",
    ),
    ToolTemplate(
        "get_recipe", "Find a recipe for a dish.",
        ["Look up how to cook a dish.", "Returns ingredients and steps for a meal."],
        [Param("dish", S("Name of the dish"), True, pick(DISHES)),
         Param("vegetarian", B("Only vegetarian recipes"), False, boolean("vegetarian"), " that is {}"),
         Param("servings", I("Number of servings"), False, integer(1, 8), " for {} people")],
        "a recipe for {dish}", ["Find {clause}.", "Give me {clause}.", "I want {clause}."],
        looked_up("cook_minutes", 10, 120, ingredients=lambda a: 4 + len(a["dish"]) % 6),
        "The recipe for {dish} takes {cook_minutes} minutes with {ingredients} ingredients.", "cook_minutes",
    ),
    ToolTemplate(
        "convert_length", "Convert a length between units.",
        ["Unit conversion for distances.", "Change a length from one unit to another."],
        [Param("value", N("The length to convert"), True, number(1, 500, 1)),
         Param("from_unit", E("Unit of the value", ["km", "mile", "m", "ft"]), True, pick(["km", "mile"])),
         Param("to_unit", E("Unit to convert to", ["km", "mile", "m", "ft"]), True, pick(["m", "ft"]))],
        "{value} {from_unit} in {to_unit}", ["How much is {clause}?", "Convert {clause}."],
        lambda a: {"converted": _r(a["value"] * {"km": 1000, "mile": 1609.344}[a["from_unit"]]
                                   / {"m": 1, "ft": 0.3048}[a["to_unit"]])},
        "{value} {from_unit} is {converted} {to_unit}.", "converted",
    ),
    ToolTemplate(
        "get_match_score", "Get the final score of a team's most recent match.",
        ["Latest game result for a sports team.", "Returns the last match score of a club."],
        [Param("team", S("Team name"), True, pick(SPORTS_TEAMS)),
         Param("season", I("Season year"), False, integer(2018, 2026), " in the {} season")],
        "the score of the last {team} match", ASK,
        looked_up("goals_for", 0, 5, goals_against=lambda a: len(a["team"]) % 4),
        "{team} scored {goals_for} and conceded {goals_against}.", "goals_for",
    ),
    ToolTemplate(
        "get_population", "Get the population of a city.",
        ["Number of inhabitants of a city.", "City population look-up."],
        [Param("city", S("City name"), True, pick(CITIES)),
         Param("year", I("Year of the estimate"), False, integer(2000, 2025), " in {}")],
        "the population of {city}", ASK,
        looked_up("population", 100000, 9000000), "{city} has about {population} inhabitants.", "population",
    ),
    ToolTemplate(
        "get_local_time", "Get the current local time in a city.",
        ["What time it is now somewhere.", "Local clock time for a location."],
        [Param("city", S("City name"), True, pick(CITIES))],
        "the local time in {city}", ASK,
        lambda a: {"time": f"{_digest('t', a) % 24:02d}:{_digest('m', a) % 60:02d}"},
        "It is {time} in {city}.", "time",
    ),
    ToolTemplate(
        "get_news_headlines", "Get the latest news headlines on a topic.",
        ["Top recent news stories for a subject.", "News search by topic."],
        [Param("topic", S("News topic"), True, pick(TOPICS)),
         Param("limit", I("How many headlines"), False, integer(1, 10), ", {} of them"),
         Param("language", E("Language of the articles", ["en", "fr", "es", "de"]), False,
               pick(["en", "fr", "es", "de"]), " in language {}")],
        "the latest headlines about {topic}", ["Show me {clause}.", "Get {clause}.", "What are {clause}?"],
        lambda a: {"headline": f"New report on {a['topic']} published this week", "count": a.get("limit", 5)},
        "Top headline: {headline}.", "headline",
    ),
    ToolTemplate(
        "search_books", "Search a library catalogue for books by keyword.",
        ["Find books whose title or subject matches words.", "Book search."],
        [Param("keywords", A("Words to search for", "string"), True, word_list(BOOK_WORDS, 1, 3)),
         Param("available_only", B("Only books that can be borrowed now"), False, boolean("available now"), ", {}")],
        "books about {keywords}", ["Find {clause}.", "Search for {clause}.", "Are there {clause}?"],
        lambda a: {"top_title": "The " + " ".join(w.title() for w in a["keywords"]), "matches": 3 * len(a["keywords"])},
        "I found {matches} books; the best match is {top_title}.", "top_title",
    ),
    ToolTemplate(
        "estimate_calories", "Estimate the calories burned by an activity.",
        ["Energy used by exercise over some minutes.", "Calorie burn estimate."],
        [Param("activity", E("The activity", ["running", "cycling", "swimming", "walking"]), True,
               pick(["running", "cycling", "swimming", "walking"])),
         Param("minutes", I("Duration in minutes"), True, integer(10, 120)),
         Param("weight_kg", N("Body weight in kg"), False, number(45, 110, 0), " for a {} kg person")],
        "the calories burned by {minutes} minutes of {activity}", ASK,
        lambda a: {"calories": round({"running": 11.4, "cycling": 8, "swimming": 9.8, "walking": 4.3}[a["activity"]]
                                     * a["minutes"] * a.get("weight_kg", 70) / 70)},
        "That burns about {calories} calories.", "calories",
    ),
    ToolTemplate(
        "monthly_loan_payment", "Calculate the monthly payment of a fixed-rate loan.",
        ["Annuity payment for a loan amount, yearly rate and term in years.", "Loan repayment calculator."],
        [Param("loan_amount", N("Amount borrowed"), True, number(1000, 400000, 0)),
         Param("annual_rate", N("Yearly interest rate in percent"), True, number(1, 9, 1)),
         Param("years", I("Loan term in years"), True, integer(1, 30))],
        "the monthly payment on a {loan_amount} loan at {annual_rate} percent for {years} years", ASK,
        lambda a: {"monthly_payment": _r(a["loan_amount"] * (a["annual_rate"] / 1200)
                                         / (1 - (1 + a["annual_rate"] / 1200) ** (-12 * a["years"])))},
        "The monthly payment is {monthly_payment}.", "monthly_payment",
    ),
    ToolTemplate(
        "apply_discount", "Compute a price after a percentage discount.",
        ["Sale price for a given discount.", "Price minus a percent off."],
        [Param("price", N("Original price"), True, number(5, 999, 2)),
         Param("discount_percent", N("Discount in percent"), True, integer(5, 70))],
        "the price of an item costing {price} after a {discount_percent} percent discount", ASK,
        lambda a: {"final_price": _r(a["price"] * (1 - a["discount_percent"] / 100))},
        "The discounted price is {final_price}.", "final_price",
    ),
    ToolTemplate(
        "kinetic_energy", "Calculate the kinetic energy of a moving object.",
        ["One half of mass times velocity squared.", "Energy of motion from mass and speed."],
        [Param("mass", N("Mass in kilograms"), True, number(1, 100, 1)),
         Param("velocity", N("Speed in meters per second"), True, number(1, 60, 1))],
        "the kinetic energy of a {mass} kg object moving at {velocity} m/s", ASK,
        lambda a: {"energy_joules": _r(0.5 * a["mass"] * a["velocity"] ** 2)},
        "The kinetic energy is {energy_joules} joules.", "energy_joules",
    ),
    ToolTemplate(
        "set_reminder", "Set a reminder with a message at a time.",
        ["Remind the user about something later.", "Creates a timed reminder."],
        [Param("message", S("What to be reminded of"), True,
               pick(["call mom", "take the medicine", "water the plants", "pay rent", "submit the report"])),
         Param("time", S("Time as HH:MM"), True, clock),
         Param("repeat_daily", B("Repeat every day"), False, boolean("every day"), " {}")],
        "remind me to {message} at {time}", DO,
        looked_up("reminder_id", 10, 999), "Reminder {reminder_id} set: {message} at {time}.", "reminder_id",
    ),
    ToolTemplate(
        "get_air_quality", "Get the air quality index of a city.",
        ["Current AQI reading for a location.", "Pollution level look-up."],
        [Param("city", S("City name"), True, pick(CITIES))],
        "the air quality index in {city}", ASK,
        looked_up("aqi", 5, 180), "The air quality index in {city} is {aqi}.", "aqi",
    ),
    ToolTemplate(
        "count_words", "Count the words in a text.",
        ["Number of words in a string.", "Word counter."],
        [Param("text", S("The text"), True, lambda r: (lambda v: (v, f'"{v}"'))(r.choice(PHRASES)))],
        "the number of words in {text}", ASK + ["Count {clause}."],
        lambda a: {"words": len(a["text"].split())}, "It has {words} words.", "words",
    ),
]  # fmt: skip

# Neutral descriptions used when a tool's description is masked.
_MASKED_DESCRIPTIONS = [
    "A function. Read the parameters to see what it does.",
    "Utility endpoint.",
    "Internal API; see the parameter descriptions.",
]
_MODULES = ["utils", "api", "tools", "service", "lib", "core", "v2", "ops"]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _random_name(rng: random.Random) -> str:
    stem = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 6)))
    return f"{rng.choice(['fn', 'tool', 'op', 'f', 'call'])}_{stem}{rng.randint(0, 99)}"


def draw_tool(
    rng: random.Random,
    template: ToolTemplate,
    *,
    mask_rate: float = 0.12,
    paraphrase_rate: float = 0.35,
    avoid_names: frozenset[str] = frozenset(),
) -> CatalogueTool:
    """A concrete tool from a template: varied name, description and (rarely) masked parameter names.

    `avoid_names`: names never to use (for example every function name in a benchmark's test data); a
    drawn name in it is replaced by a masked one."""
    r = rng.random()
    base = template.name
    if r < mask_rate:
        name = _random_name(rng)
    elif r < 0.35:
        name = f"{rng.choice(_MODULES)}.{base}"
    elif r < 0.5:
        name = _camel(base)
    elif r < 0.6:
        name = rng.choice(["get_", "fetch_", "do_", "run_"]) + re.sub(r"^(get|calculate|compute)_", "", base)
    else:
        name = base
    while name in avoid_names:
        name = _random_name(rng)
    r = rng.random()
    if r < mask_rate:
        description = rng.choice(_MASKED_DESCRIPTIONS)
    elif r < mask_rate + paraphrase_rate:
        description = rng.choice(template.paraphrases)
    else:
        description = template.description
    mask_params = rng.random() < mask_rate / 2
    names: dict[str, str] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in template.params:
        offered = f"arg{len(names)}" if mask_params else p.name
        names[p.name] = offered
        properties[offered] = dict(p.schema)
        if p.required:
            required.append(offered)
    parameters = {"type": "object", "properties": properties, "required": required}
    return CatalogueTool(
        template, ToolDefinition(name=name, description=description, parameters=parameters), names
    )
