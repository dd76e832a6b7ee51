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
import statistics
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llamasys.core_model.messages import ToolDefinition

__all__ = ["CatalogueTool", "Param", "SampledCall", "TEMPLATES", "ToolTemplate", "draw_tool", "type_numbers"]

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
    money: bool = False  # an amount of money: a typed request may write it with a dollar sign


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
    group: str = ""  # sibling families: the same argument shapes, another operation or subject


@dataclass
class CatalogueTool:
    """A template made concrete: the offered definition and the map to the template's parameter names."""

    template: ToolTemplate
    definition: ToolDefinition
    param_names: dict[str, str]  # template parameter name -> offered name

    @property
    def name(self) -> str:
        return self.definition.name

    def sample_call(
        self, rng: random.Random, *, optional_rate: float = 0.35, number_style_rate: float = 0.0
    ) -> SampledCall:
        """Draw argument values, the words that ask for them, run the template, write the answer.

        `optional_rate`: the chance each optional parameter is set (its request then names it).
        `number_style_rate`: the chance the request writes its numbers as people type them (see
        `type_numbers`); the arguments keep the bare JSON numbers. At 0 no draw is made, so data drawn
        before the option existed is unchanged."""
        t = self.template
        typed = number_style_rate > 0 and rng.random() < number_style_rate
        values: dict[str, Any] = {}
        words: dict[str, str] = {}
        extras: list[str] = []
        for p in t.params:
            if p.required or rng.random() < optional_rate:
                value, text = p.sample(rng)
                values[p.name] = value
                words[p.name] = f"${text}" if typed and p.money else text
                if not p.required:
                    extras.append(p.phrase.format(words[p.name]))
        clause = t.clause.format(**words) + "".join(extras)
        if typed:
            clause = type_numbers(clause, rng)
        question = rng.choice(t.questions).format(clause=clause)
        question = question[0].upper() + question[1:]
        result = t.execute(values)
        answer = t.answer.format(**result, **words)
        arguments = {self.param_names[k]: v for k, v in values.items()}
        return SampledCall(arguments, clause, question, result, answer, str(result[t.answer_key]))


# -- numbers as people type them ---------------------------------------------------------------------

_NUMBER = r"(?<![\w.,/:+-])(\d+(?:\.\d+)?)"
_ATTACHED_UNITS = re.compile(_NUMBER + r" (kg|km|cm|mm|m|m/s|km/h|ft|mph|ml|g|lb)(?![\w/])")
_PERCENT = re.compile(_NUMBER + r" percent\b")
_CURRENCY_CODE = re.compile(_NUMBER + r" (USD|EUR|GBP)\b")
_CURRENCY_SIGNS = {"USD": "$", "EUR": "\u20ac", "GBP": "\u00a3"}
_NUMBER_LIST = re.compile(r"\d, \d")
_BIG_NUMBER = re.compile(r"(?<![\w.,/:+-])(\d{4,})(?=(?:\.\d+)?(?![\w/:-]|[.,]\d))")


def _thousands(match: re.Match[str]) -> str:
    digits = match.group(1)
    if len(digits) == 4 and 1900 <= int(digits) <= 2100:  # a year, written as one
        return digits
    return f"{int(digits):,}"


def type_numbers(text: str, rng: random.Random) -> str:
    """`text` with its numbers written as people type them, each style with probability 0.7: a unit
    against the number ("70 kg" -> "70kg", "12 m/s" -> "12m/s"), "5.5 percent" -> "5.5%", a currency code
    as its sign ("1200 USD" -> "$1200"), thousands separators ("250000" -> "250,000"; years 1900-2100
    stay as they are, and a list of numbers keeps its plain form). The values do not change: a model must still write 70, 5.5, 1200 and 250000 in
    its JSON (BFCL's requests say "$500" and "20ft"; a bare `20ft` in JSON does not parse)."""
    if rng.random() < 0.7:
        text = _ATTACHED_UNITS.sub(r"\1\2", text)
    if rng.random() < 0.7:
        text = _PERCENT.sub(r"\1%", text)
    if rng.random() < 0.7:
        text = _CURRENCY_CODE.sub(lambda m: _CURRENCY_SIGNS[m.group(2)] + m.group(1), text)
    if rng.random() < 0.7 and not _NUMBER_LIST.search(text):  # "1,000, 20,000 and 3" would be ambiguous
        text = _BIG_NUMBER.sub(_thousands, text)
    return text


# -- value samplers ----------------------------------------------------------------------------------


def pick(options: list[str]) -> Callable[[random.Random], tuple[Any, str]]:
    return lambda rng: (lambda v: (v, v))(rng.choice(options))


def integer(lo: int, hi: int) -> Callable[[random.Random], tuple[Any, str]]:
    return lambda rng: (lambda v: (v, str(v)))(rng.randint(lo, hi))


def number(lo: float, hi: float, digits: int = 1) -> Callable[[random.Random], tuple[Any, str]]:
    def sample(rng: random.Random) -> tuple[Any, str]:
        value = _r(rng.uniform(lo, hi), digits)  # 2000, not 2000.0: the JSON says what the words say
        return value, f"{value:g}"

    return sample


def pick_number(options: list[float]) -> Callable[[random.Random], tuple[Any, str]]:
    return lambda rng: (lambda v: (v, f"{v:g}"))(_r(rng.choice(options), 12))


def pick_int(options: list[int]) -> Callable[[random.Random], tuple[Any, str]]:
    return lambda rng: (lambda v: (v, str(v)))(rng.choice(options))


def boolean(true_words: str) -> Callable[[random.Random], tuple[Any, str]]:
    return lambda rng: (True, true_words)


def number_list(n_lo: int, n_hi: int, lo: int, hi: int) -> Callable[[random.Random], tuple[Any, str]]:
    def sample(rng: random.Random) -> tuple[Any, str]:
        values = [rng.randint(lo, hi) for _ in range(rng.randint(n_lo, n_hi))]
        return values, ", ".join(str(v) for v in values[:-1]) + f" and {values[-1]}"

    return sample


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" and {words[-1]}"


def word_list(options: list[str], n_lo: int, n_hi: int) -> Callable[[random.Random], tuple[Any, str]]:
    def sample(rng: random.Random) -> tuple[Any, str]:
        values = rng.sample(options, rng.randint(n_lo, n_hi))
        return values, _and(values)

    return sample


def worded(options: list[tuple[Any, str]]) -> Callable[[random.Random], tuple[Any, str]]:
    """A value and its own words ("suv" -> "an SUV")."""
    return lambda rng: rng.choice(options)


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


def Obj(description: str, properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A nested object parameter with its own properties (all required unless `required` says)."""
    return {"type": "object", "description": description, "properties": properties,
            "required": list(properties) if required is None else required}  # fmt: skip


def AE(description: str, options: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "enum": options}, "description": description}


# -- reference tables (real values) and exact computations for the families below -------------------------

BASKETBALL_TEAMS = [
    "Harbor City Comets",
    "Mesa Ridge Suns",
    "Cedar Falls Owls",
    "Bayview Tide",
    "Ironwood Miners",
]
ALL_TEAMS = SPORTS_TEAMS + BASKETBALL_TEAMS
# name -> (symbol, standard atomic weight, melting point in kelvin)
ELEMENTS: dict[str, tuple[str, float, float]] = {
    "hydrogen": ("H", 1.008, 13.99), "nitrogen": ("N", 14.007, 63.15), "oxygen": ("O", 15.999, 54.36),
    "sodium": ("Na", 22.99, 370.94), "magnesium": ("Mg", 24.305, 923.0), "aluminium": ("Al", 26.982, 933.47),
    "silicon": ("Si", 28.085, 1687.0), "sulfur": ("S", 32.06, 388.36), "iron": ("Fe", 55.845, 1811.0),
    "copper": ("Cu", 63.546, 1357.77), "zinc": ("Zn", 65.38, 692.68), "silver": ("Ag", 107.87, 1234.93),
    "tin": ("Sn", 118.71, 505.08), "gold": ("Au", 196.97, 1337.33), "lead": ("Pb", 207.2, 600.61),
}  # fmt: skip
_SYMBOLS = {symbol: name for name, (symbol, _, _) in ELEMENTS.items()}
# particle -> (rest mass in kg, rest energy in MeV, charge in elementary charges)
PARTICLES: dict[str, tuple[float, float, int]] = {
    "electron": (9.109e-31, 0.511, -1), "proton": (1.6726e-27, 938.272, 1),
    "neutron": (1.6749e-27, 939.565, 0), "muon": (1.8835e-28, 105.658, -1),
}  # fmt: skip
ELEMENTARY_CHARGE = 1.602e-19
# country -> (GDP per person in 2020 USD, population in millions, life expectancy around 2020): rounded
# reference points; a year's figure follows a smooth trend from them (with a little deterministic noise)
COUNTRY_STATS: dict[str, tuple[float, float, float]] = {
    "Kenya": (2000, 52, 62), "Chile": (13000, 19, 79), "Norway": (68000, 5.4, 83), "Vietnam": (3500, 97, 74),
    "Portugal": (22000, 10.3, 81), "Canada": (43000, 38, 82), "Ghana": (2200, 31, 64), "Peru": (6100, 33, 76),
    "Poland": (15700, 38, 77), "Japan": (40000, 126, 84),
}  # fmt: skip
COUNTRIES = list(COUNTRY_STATS)


def _gdp(args: dict[str, Any]) -> dict[str, Any]:
    per_capita, population, _ = COUNTRY_STATS[args["country"]]
    noise = 1 + 0.04 * (_fraction("gdp", args["country"], args["year"]) - 0.5)
    per_capita *= 1.03 ** (args["year"] - 2020) * noise
    population *= 1.008 ** (args["year"] - 2020)
    if args.get("per_capita"):
        return {"gdp": _r(per_capita, 0), "gdp_unit": "USD per person"}
    return {"gdp": _r(per_capita * population / 1000, 1), "gdp_unit": "billion USD"}


def _life(args: dict[str, Any]) -> dict[str, Any]:
    base = COUNTRY_STATS[args["country"]][2] - 0.2 * (2020 - args["year"])
    sex = {"female": 2.5, "male": -2.5}.get(args.get("sex", "both"), 0)
    return {"life_expectancy": _r(base + sex + _fraction("life", args["country"], args["year"]) - 0.5, 1)}


# planet -> (orbital period in Earth days, surface gravity in m/s^2)
PLANETS: dict[str, tuple[float, float]] = {
    "Mercury": (87.97, 3.7), "Venus": (224.7, 8.87), "Earth": (365.26, 9.81), "Mars": (686.98, 3.72),
    "Jupiter": (4332.59, 24.79), "Saturn": (10759.22, 10.44), "Uranus": (30688.5, 8.69), "Neptune": (60182.0, 11.15),
}  # fmt: skip
# event -> (exact date, place, country today)
HISTORY: dict[str, tuple[str, str, str]] = {
    "the fall of the Berlin Wall": ("1989-11-09", "Berlin", "Germany"),
    "the sealing of the Magna Carta": ("1215-06-15", "Runnymede", "England"),
    "the first crewed Moon landing": ("1969-07-20", "the Sea of Tranquility on the Moon", "none (the Moon)"),
    "the storming of the Bastille": ("1789-07-14", "Paris", "France"),
    "the adoption of the US Declaration of Independence": ("1776-07-04", "Philadelphia", "United States"),
    "the Battle of Hastings": ("1066-10-14", "near Hastings", "England"),
    "the opening of the Suez Canal": ("1869-11-17", "Port Said", "Egypt"),
    "the signing of the Treaty of Versailles": ("1919-06-28", "the Palace of Versailles", "France"),
    "the signing of the United Nations Charter": ("1945-06-26", "San Francisco", "United States"),
}
# US customary cooking measures in millilitres
KITCHEN_ML = {
    "cup": 236.588,
    "tablespoon": 14.787,
    "teaspoon": 4.929,
    "millilitre": 1.0,
    "fluid_ounce": 29.574,
}
DIETS = ["vegan", "vegetarian", "gluten-free", "dairy-free", "nut-free"]
AMENITIES = ["garage", "garden", "pool", "balcony", "fireplace"]
_LETTERS = "CDEFGAB"
_NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
NOTE_ROOTS = ["C", "D", "E", "F", "G", "A", "B", "Bb", "Eb", "F#"]
_CHORDS = {"major": [(2, 4), (4, 7)], "minor": [(2, 3), (4, 7)], "diminished": [(2, 3), (4, 6)],
           "augmented": [(2, 4), (4, 8)]}  # fmt: skip
_SCALES = {"major": [0, 2, 4, 5, 7, 9, 11], "natural minor": [0, 2, 3, 5, 7, 8, 10],
           "harmonic minor": [0, 2, 3, 5, 7, 8, 11]}  # fmt: skip


def _spell(root: str, letter_steps: int, semitones: int) -> str:
    """The note `semitones` above `root`, spelled on the letter `letter_steps` above its letter (E + a
    major third is G#, not Ab)."""
    index = _LETTERS.index(root[0])
    pitch = (_NATURAL[root[0]] + root.count("#") - root.count("b")) % 12
    letter = _LETTERS[(index + letter_steps) % 7]
    shift = (pitch + semitones - _NATURAL[letter] + 6) % 12 - 6
    return letter + ("#" * shift if shift > 0 else "b" * -shift)


def _chord(args: dict[str, Any]) -> dict[str, Any]:
    notes = [args["root"]] + [_spell(args["root"], s, t) for s, t in _CHORDS[args["quality"]]]
    turns = {"root": 0, "first": 1, "second": 2}[args.get("inversion", "root")]
    return {"notes": " ".join(notes[turns:] + notes[:turns])}


def _scale(args: dict[str, Any]) -> dict[str, Any]:
    notes = [_spell(args["root"], i, t) for i, t in enumerate(_SCALES[args["mode"]])]
    return {"notes": " ".join(reversed(notes) if args.get("descending") else notes)}


def _element(args: dict[str, Any]) -> tuple[str, float, float]:
    given = args["element"].strip()
    name = _SYMBOLS.get(given, given.lower())
    return (name, *ELEMENTS[name][1:])


def _t_test(args: dict[str, Any]) -> dict[str, Any]:
    a, b = args["sample_a"], args["sample_b"]
    na, nb = len(a), len(b)
    va, vb = statistics.variance(a), statistics.variance(b)
    if args.get("equal_variance"):
        pooled = ((na - 1) * va + (nb - 1) * vb) / (na + nb - 2)
        se2, df = pooled * (1 / na + 1 / nb), float(na + nb - 2)
    else:
        se2 = va / na + vb / nb
        df = se2**2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1)) if se2 else float(na + nb - 2)
    t = (statistics.mean(a) - statistics.mean(b)) / math.sqrt(se2) if se2 else 0.0
    return {"t_statistic": _r(t, 3), "degrees_of_freedom": _r(df, 2)}


def _fraction(*parts: Any) -> float:
    return (_digest(*parts) % 10_000) / 10_000


def _home(args: dict[str, Any], per_sqm: tuple[float, float]) -> float:
    lo, hi = per_sqm
    rate = lo + (hi - lo) * _fraction("sqm", args["city"])
    return args["floor_area_sqm"] * rate * (1 + 0.04 * len(args.get("amenities", [])))


_OPS = {"=": "is", "!=": "is not", ">": "is greater than", "<": "is less than", ">=": "is at least",
        "<=": "is at most"}  # fmt: skip
_ROW_FILTERS = [("status", "=", "active"), ("status", "!=", "closed"), ("region", "=", "EMEA"),
                ("region", "!=", "APAC"), ("created_year", ">=", "2024"), ("created_year", "<", "2021"),
                ("priority", ">", "2"), ("priority", "<=", "3")]  # fmt: skip


def row_filter(rng: random.Random) -> tuple[Any, str]:
    column, op, value = rng.choice(_ROW_FILTERS)
    return {"column": column, "operator": op, "value": value}, f"{column} {_OPS[op]} {value}"


FILTER_SCHEMA = Obj("Condition the rows must meet", {
    "column": S("Column to test"),
    "operator": E("Comparison operator", list(_OPS)),
    "value": S("Value to compare with, written as a string"),
})  # fmt: skip


def dimensions(rng: random.Random) -> tuple[Any, str]:
    length, width, height = (_r(rng.uniform(2, 120), 1) for _ in range(3))
    value = {"length": length, "width": width, "height": height}
    return value, f"{length:g} long, {width:g} wide and {height:g} high"


DIMENSIONS_SCHEMA = Obj("Size of the box", {
    "length": N("Length of the box"), "width": N("Width of the box"), "height": N("Height of the box"),
})  # fmt: skip


def case_number(rng: random.Random) -> tuple[Any, str]:
    value = f"{rng.randint(2015, 2025)}-{rng.choice(['CV', 'CR', 'FA', 'AP'])}-{rng.randint(1, 9999):04d}"
    return value, value


_CASE_STATUS = ["pending trial", "awaiting judgment", "settled", "on appeal", "dismissed", "in discovery"]
_PARTIES = PEOPLE + ["Northwind Ltd", "Bluefin Shipping", "Cobalt Energy", "Helix Pharma", "Orchard Foods"]
_MEALS = {
    "breakfast": ["overnight oats with berries", "spinach and tofu scramble", "buckwheat pancakes"],
    "lunch": ["chickpea and quinoa salad", "roasted vegetable wrap", "lentil and tomato soup"],
    "dinner": ["black bean chili", "sweet potato curry", "mushroom stir-fry with rice"],
    "dessert": ["baked cinnamon apples", "coconut rice pudding", "dark chocolate mousse"],
}


def _diet_recipe(args: dict[str, Any]) -> dict[str, Any]:
    options = _MEALS[args["meal_type"]]
    cap = args.get("max_calories", 750)
    return {"title": options[_digest("meal", args) % len(options)],
            "calories": int(cap * (0.55 + 0.4 * _fraction("kcal", args))),
            "prep_minutes": 5 + _digest("prep", args) % (args.get("max_prep_minutes", 45) - 5)}  # fmt: skip


# Free-text parameters literally named `type`: BFCL's schemas have them ("The personality type", "Type of the
# instrument") and a model that never saw one writes the JSON type into it ({"type": "string"}).
CAR_TYPES = ["sedan", "SUV", "hatchback", "pickup truck", "minivan", "coupe", "station wagon", "convertible"]


def _used_cars(args: dict[str, Any]) -> dict[str, Any]:
    cap = args["max_price"]
    return {
        "listings": 3 + _digest("cars", args) % 40,
        "cheapest": int(cap * (0.45 + 0.4 * _fraction("low", args))),
    }


def _car_insurance(args: dict[str, Any]) -> dict[str, Any]:
    base = 900 + _digest("body", args["type"]) % 700
    young = 1.6 if args["driver_age"] < 25 else 1.0
    cover = {"liability": 0.7, "comprehensive": 1.3}[args.get("coverage", "liability")]
    return {"yearly_premium": int(base * young * cover)}


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
        lambda a: {"area": _r(math.pi * a["radius"] ** 2)}, "The area is {area}.", "area", group="geometry",
    ),
    ToolTemplate(
        "calculate_rectangle_perimeter", "Calculate the perimeter of a rectangle.",
        ["Perimeter of a rectangle from its two side lengths.", "Returns 2 * (length + width)."],
        [Param("length", N("Length of the rectangle"), True, number(1, 100, 1)),
         Param("width", N("Width of the rectangle"), True, number(1, 100, 1))],
        "the perimeter of a rectangle with length {length} and width {width}", ASK,
        lambda a: {"perimeter": _r(2 * (a["length"] + a["width"]))}, "The perimeter is {perimeter}.", "perimeter",
        group="geometry",
    ),
    ToolTemplate(
        "compound_interest", "Compute the final balance of an investment with compound interest.",
        ["Future value of a deposit growing at a yearly rate, compounded a number of times per year.",
         "Calculates how much money grows to with compounding."],
        [Param("principal", N("Initial amount invested"), True, number(100, 20000, 0), money=True),
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
        group="list_stats",
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
        "{confirmation_number}.", "confirmation_number", group="travel_booking",
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
        group="recipes",
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
        "{value} {from_unit} is {converted} {to_unit}.", "converted", group="unit_conversion",
    ),
    ToolTemplate(
        "get_match_score", "Get the final score of a football (soccer) team's most recent match.",
        ["Latest football result (goals) for a club.", "Returns the last football match score of a club."],
        [Param("team", S("Team name"), True, pick(SPORTS_TEAMS)),
         Param("season", I("Season year"), False, integer(2018, 2026), " in the {} season")],
        "the score of the last {team} football match", ASK,
        looked_up("goals_for", 0, 5, goals_against=lambda a: len(a["team"]) % 4),
        "{team} scored {goals_for} and conceded {goals_against}.", "goals_for", group="team_results",
    ),
    ToolTemplate(
        "get_population", "Get the population of a city.",
        ["Number of inhabitants of a city.", "City population look-up."],
        [Param("city", S("City name"), True, pick(CITIES)),
         Param("year", I("Year of the estimate"), False, integer(2000, 2025), " in {}")],
        "the population of {city}", ASK,
        looked_up("population", 100000, 9000000), "{city} has about {population} inhabitants.", "population",
        group="city_facts",
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
        [Param("loan_amount", N("Amount borrowed"), True, number(1000, 400000, 0), money=True),
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
        [Param("price", N("Original price"), True, number(5, 999, 2), money=True),
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
    # -- sibling groups: the same argument shapes, another operation or subject (pick by name/description)
    ToolTemplate(
        "get_basketball_game_score", "Get the final score of a basketball team's most recent game.",
        ["Latest basketball result (points scored and allowed) for a team.",
         "Returns the points of both sides in a basketball team's last game."],
        [Param("team", S("Basketball team name"), True, pick(BASKETBALL_TEAMS)),
         Param("season", I("Season year"), False, integer(2018, 2026), " in the {} season"),
         Param("include_box_score", B("Also return per-player points"), False, boolean("with the box score"), ", {}")],
        "the final score of the latest {team} basketball game", ASK,
        looked_up("points_for", 78, 131, points_against=lambda a: 80 + _digest("pa", a) % 45),
        "{team} scored {points_for} points and allowed {points_against}.", "points_for", group="team_results",
    ),
    ToolTemplate(
        "team_upcoming_fixtures", "List a sports team's upcoming games.",
        ["The next games on a team's schedule, with dates and opponents.", "Upcoming fixtures of a club."],
        [Param("team", S("Team name"), True, pick(ALL_TEAMS)),
         Param("count", I("How many upcoming games to list"), False, integer(2, 6), ", the next {} games"),
         Param("home_only", B("Only home games"), False, boolean("home games only"), ", {}")],
        "the upcoming games of {team}", ["Show me {clause}.", "What are {clause}?", "List {clause}."],
        lambda a: {"next_opponent": [t for t in ALL_TEAMS if t != a["team"]][_digest("opp", a) % 9],
                   "next_date": f"2026-{1 + _digest('mo', a) % 12:02d}-{1 + _digest('dy', a) % 28:02d}"},
        "{team} next play {next_opponent} on {next_date}.", "next_date", group="team_results",
    ),
    ToolTemplate(
        "team_league_position", "Get a team's position and points in its league table.",
        ["Where a club stands in the league standings.", "League table rank and points of a team."],
        [Param("team", S("Team name"), True, pick(ALL_TEAMS)),
         Param("season", I("Season year"), False, integer(2018, 2026), " in the {} season")],
        "the league position of {team}", ASK,
        looked_up("points", 8, 85, position=lambda a: 1 + _digest("pos", a) % 20),
        "{team} are in position {position} with {points} points.", "points", group="team_results",
    ),
    ToolTemplate(
        "element_atomic_mass", "Get the standard atomic mass of a chemical element.",
        ["Atomic weight of an element, in unified atomic mass units.", "Look up how heavy an element's atoms are."],
        [Param("element", S("Element name or symbol, e.g. iron or Fe"), True,
               lambda r: (lambda n: (lambda v: (v, v))(r.choice([n, ELEMENTS[n][0]])))(r.choice(list(ELEMENTS))))],
        "the atomic mass of {element}", ASK,
        lambda a: {"atomic_mass": _element(a)[1], "unit": "u"},
        "The atomic mass of {element} is {atomic_mass} u.", "atomic_mass", group="elements",
    ),
    ToolTemplate(
        "element_melting_point", "Get the melting point of a chemical element.",
        ["Temperature at which an element melts.", "Melting temperature of a pure element."],
        [Param("element", S("Element name or symbol, e.g. iron or Fe"), True,
               lambda r: (lambda n: (lambda v: (v, v))(r.choice([n, ELEMENTS[n][0]])))(r.choice(list(ELEMENTS)))),
         Param("unit", E("Temperature unit (default kelvin)", ["kelvin", "celsius"]), False,
               pick(["kelvin", "celsius"]), " in {}")],
        "the melting point of {element}", ASK,
        lambda a: {"melting_point": _r(_element(a)[2] - (273.15 if a.get("unit") == "celsius" else 0)),
                   "temperature_unit": a.get("unit", "kelvin")},
        "The melting point of {element} is {melting_point} {temperature_unit}.", "melting_point", group="elements",
    ),
    ToolTemplate(
        "particle_rest_mass", "Get the rest mass of a subatomic particle.",
        ["Mass of an elementary or composite particle at rest.", "How heavy a particle is, in kg or MeV/c^2."],
        [Param("particle", E("The particle", list(PARTICLES)), True, pick(list(PARTICLES))),
         Param("unit", E("Unit of the mass (default kg)", ["kg", "MeV"]), False,
               worded([("kg", "kilograms"), ("MeV", "MeV/c^2")]), " in {}")],
        "the rest mass of the {particle}", ASK,
        lambda a: {"mass": PARTICLES[a["particle"]][1 if a.get("unit") == "MeV" else 0],
                   "mass_unit": "MeV/c^2" if a.get("unit") == "MeV" else "kg"},
        "The {particle} has a rest mass of {mass} {mass_unit}.", "mass", group="particles",
    ),
    ToolTemplate(
        "particle_electric_charge", "Get the electric charge of a subatomic particle.",
        ["Charge carried by a particle.", "Electric charge of a particle in coulombs or elementary charges."],
        [Param("particle", E("The particle", list(PARTICLES)), True, pick(list(PARTICLES))),
         Param("unit", E("Unit of the charge (default elementary)", ["elementary", "coulomb"]), False,
               worded([("coulomb", "coulombs"), ("elementary", "elementary charges")]), " in {}")],
        "the electric charge of the {particle}", ASK,
        lambda a: {"charge": _r(PARTICLES[a["particle"]][2] * (ELEMENTARY_CHARGE if a.get("unit") == "coulomb"
                                                               else 1), 25),
                   "charge_unit": "C" if a.get("unit") == "coulomb" else "e"},
        "The {particle} has a charge of {charge} {charge_unit}.", "charge", group="particles",
    ),
    ToolTemplate(
        "get_city_area", "Get the land area of a city.",
        ["Surface area within a city's limits.", "How big a city is, in square kilometres or square miles."],
        [Param("city", S("City name"), True, pick(CITIES)),
         Param("unit", E("Area unit (default km2)", ["km2", "mi2"]), False,
               worded([("km2", "square kilometres"), ("mi2", "square miles")]), " in {}")],
        "the area of {city}", ASK,
        lambda a: (lambda km2: {"area": _r(km2 / 2.59 if a.get("unit") == "mi2" else km2, 1),
                                "area_unit": a.get("unit", "km2")})(80 + 1400 * _fraction("area", a["city"])),
        "{city} covers {area} {area_unit}.", "area", group="city_facts",
    ),
    ToolTemplate(
        "country_gdp_by_year", "Get a country's gross domestic product for a given year.",
        ["Economic output (GDP) of a country in one year.", "Yearly GDP figure for a nation."],
        [Param("country", S("Country name"), True, pick(COUNTRIES)),
         Param("year", I("The year"), True, integer(1995, 2023)),
         Param("per_capita", B("Return GDP per person instead of the total"), False, boolean("per capita"), ", {}")],
        "the GDP of {country} in {year}", ASK,
        _gdp,
        "The GDP of {country} in {year} was {gdp} {gdp_unit}.", "gdp", group="country_yearly",
    ),
    ToolTemplate(
        "country_life_expectancy", "Get the life expectancy at birth in a country for a given year.",
        ["Average lifespan of people born in a country in one year.", "Yearly life expectancy for a nation."],
        [Param("country", S("Country name"), True, pick(COUNTRIES)),
         Param("year", I("The year"), True, integer(1995, 2023)),
         Param("sex", E("Only this sex (default both)", ["female", "male", "both"]), False,
               pick(["female", "male"]), " for {}s")],
        "the life expectancy in {country} in {year}", ASK,
        _life, "Life expectancy in {country} in {year} was {life_expectancy} years.",
        "life_expectancy", group="country_yearly",
    ),
    ToolTemplate(
        "standard_deviation", "Compute the standard deviation of a list of numbers.",
        ["Spread of numbers around their mean.", "Population or sample standard deviation of a numeric list."],
        [Param("numbers", A("The numbers", "number"), True, number_list(4, 7, 1, 99)),
         Param("sample", B("Use the sample formula (divide by n - 1) instead of the population one"), False,
               boolean("treating them as a sample"), ", {}")],
        "the standard deviation of {numbers}", ASK,
        lambda a: {"std_dev": _r((statistics.stdev if a.get("sample") else statistics.pstdev)(a["numbers"]), 3)},
        "The standard deviation is {std_dev}.", "std_dev", group="list_stats",
    ),
    ToolTemplate(
        "two_sample_t_test", "Run a two-sample t-test comparing the means of two groups.",
        ["Student's or Welch's t statistic for two independent samples.", "Test whether two samples differ in mean."],
        [Param("sample_a", A("Values of the first group", "number"), True, number_list(4, 6, 10, 60)),
         Param("sample_b", A("Values of the second group", "number"), True, number_list(4, 6, 10, 60)),
         Param("equal_variance", B("Assume both groups have the same variance (Student's test); otherwise Welch's"),
               False, boolean("assuming equal variance"), ", {}"),
         Param("alpha", N("Significance level"), False, pick_number([0.01, 0.05, 0.1]), " at a significance level of {}")],
        "the two-sample t-test result for {sample_a} versus {sample_b}", ASK,
        _t_test, "The t statistic is {t_statistic} with {degrees_of_freedom} degrees of freedom.", "t_statistic",
    ),
    ToolTemplate(
        "box_volume", "Calculate the volume of a rectangular box from its dimensions.",
        ["Length times width times height of a cuboid.", "Volume of a box-shaped container."],
        [Param("dimensions", DIMENSIONS_SCHEMA, True, dimensions),
         Param("unit", E("Length unit of the dimensions", ["cm", "m", "in"]), False,
               worded([("cm", "centimetres"), ("in", "inches")]), ", measured in {}")],
        "the volume of a box {dimensions}", ASK,
        lambda a: {"volume": _r(a["dimensions"]["length"] * a["dimensions"]["width"] * a["dimensions"]["height"])},
        "The volume is {volume}.", "volume", group="geometry",
    ),
    ToolTemplate(
        "box_surface_area", "Calculate the total surface area of a rectangular box.",
        ["Area of all six faces of a cuboid.", "How much material covers a closed box."],
        [Param("dimensions", DIMENSIONS_SCHEMA, True, dimensions),
         Param("open_top", B("The box has no lid (five faces)"), False, boolean("with an open top"), ", {}")],
        "the surface area of a box {dimensions}", ASK,
        lambda a: (lambda d: {"surface_area": _r(2 * (d["length"] * d["width"] + d["length"] * d["height"]
                                                      + d["width"] * d["height"])
                                                 - (d["length"] * d["width"] if a.get("open_top") else 0))})(
            a["dimensions"]),
        "The surface area is {surface_area}.", "surface_area", group="geometry",
    ),
    ToolTemplate(
        "reserve_rental_car", "Reserve a rental car in a city for a number of days.",
        ["Book a hire car from a pick-up date.", "Car rental reservation."],
        [Param("city", S("City where the car is picked up"), True, pick(CITIES)),
         Param("pickup_date", S("Pick-up date as YYYY-MM-DD"), True, date),
         Param("days", I("Number of rental days"), True, integer(1, 21)),
         Param("car_class", E("Class of car", ["compact", "sedan", "suv", "van"]), False,
               worded([("compact", "a compact car"), ("sedan", "a sedan"), ("suv", "an SUV"), ("van", "a van")]),
               ", {}"),
         Param("full_insurance", B("Add full insurance cover"), False, boolean("with full insurance"), " {}")],
        "rent a car in {city} from {pickup_date} for {days} days", DO,
        looked_up("booking_reference", 200000, 899999, daily_rate=lambda a: 25 + _digest("rate", a) % 90),
        "Your rental car in {city} is reserved, booking reference {booking_reference}.", "booking_reference",
        group="travel_booking",
    ),
    ToolTemplate(
        "court_case_status", "Get the current status of a court case by its case number.",
        ["Where a lawsuit stands and when its next hearing is.", "Docket status look-up for a case."],
        [Param("case_number", S("Case number, e.g. 2023-CV-0415"), True, case_number),
         Param("court", E("Level of the court", ["district", "appeals", "supreme"]), False,
               pick(["district", "appeals", "supreme"]), " in the {} court")],
        "the status of case {case_number}", ASK,
        lambda a: {"status": _CASE_STATUS[_digest("st", a) % len(_CASE_STATUS)],
                   "next_hearing": f"2026-{1 + _digest('hm', a) % 12:02d}-{1 + _digest('hd', a) % 28:02d}"},
        "Case {case_number} is {status}; the next hearing is on {next_hearing}.", "next_hearing", group="court_cases",
    ),
    ToolTemplate(
        "court_case_parties", "List the parties (plaintiff and defendant) of a court case.",
        ["Who is suing whom in a case.", "Names of the parties in a lawsuit by case number."],
        [Param("case_number", S("Case number, e.g. 2023-CV-0415"), True, case_number),
         Param("include_attorneys", B("Also list each party's attorneys"), False,
               boolean("including their attorneys"), ", {}")],
        "the list of parties in case {case_number}", ASK,
        lambda a: {"plaintiff": _PARTIES[_digest("pl", a["case_number"]) % len(_PARTIES)],
                   "defendant": _PARTIES[(_digest("pl", a["case_number"]) + 1 + _digest("df", a["case_number"]) % 9)
                                         % len(_PARTIES)]},
        "In case {case_number}, {plaintiff} is the plaintiff and {defendant} the defendant.", "plaintiff",
        group="court_cases",
    ),
    ToolTemplate(
        "chord_notes", "List the notes of a chord.",
        ["Spell a triad from its root and quality.", "Which notes make up a major, minor, diminished or augmented chord."],
        [Param("root", E("Root note", NOTE_ROOTS), True, pick(NOTE_ROOTS)),
         Param("quality", E("Chord quality", list(_CHORDS)), True, pick(list(_CHORDS))),
         Param("inversion", E("Which note is lowest", ["root", "first", "second"]), False,
               pick(["first", "second"]), ", in {} inversion")],
        "the list of notes in the {root} {quality} chord", ASK,
        _chord, "The {root} {quality} chord is {notes}.", "notes", group="music_theory",
    ),
    ToolTemplate(
        "scale_notes", "List the notes of a musical scale.",
        ["Spell a scale from its root and mode.", "The seven notes of a major or minor scale."],
        [Param("root", E("Root note", NOTE_ROOTS), True, pick(NOTE_ROOTS)),
         Param("mode", E("Scale type", list(_SCALES)), True, pick(list(_SCALES))),
         Param("descending", B("List the notes from the top down"), False, boolean("descending"), ", {}")],
        "the list of notes in the {root} {mode} scale", ASK,
        _scale, "The {root} {mode} scale is {notes}.", "notes", group="music_theory",
    ),
    ToolTemplate(
        "suggest_recipe_for_diet", "Suggest a recipe for a meal that fits dietary requirements.",
        ["Recipe idea for breakfast, lunch, dinner or dessert, filtered by diet and calories.",
         "Find a meal that meets dietary restrictions."],
        [Param("meal_type", E("The meal", list(_MEALS)), True, pick(list(_MEALS))),
         Param("dietary_requirements", AE("Diets the recipe must meet", DIETS), False, word_list(DIETS, 1, 2),
               " that is {}"),
         Param("max_calories", I("Maximum calories per serving"), False, pick_int([300, 400, 500, 600]),
               " with less than {} calories"),
         Param("max_prep_minutes", I("Maximum preparation time in minutes"), False, pick_int([15, 20, 30, 45]),
               ", ready in under {} minutes")],
        "a {meal_type} recipe", ["Suggest {clause}.", "Find me {clause}.", "I want {clause}."],
        _diet_recipe, "Try {title}: about {calories} calories, {prep_minutes} minutes to make.", "title",
        group="recipes",
    ),
    ToolTemplate(
        "convert_cooking_volume", "Convert a cooking measure (cups, tablespoons, teaspoons) to another volume unit.",
        ["Kitchen volume conversion using US customary measures.", "Cups and spoons to millilitres or fluid ounces."],
        [Param("amount", N("The quantity to convert"), True, pick_number([0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4])),
         Param("from_unit", E("Unit of the amount", ["cup", "tablespoon", "teaspoon"]), True,
               worded([("cup", "cups"), ("tablespoon", "tablespoons"), ("teaspoon", "teaspoons")])),
         Param("to_unit", E("Unit to convert to", ["millilitre", "fluid_ounce"]), True,
               worded([("millilitre", "millilitres"), ("fluid_ounce", "fluid ounces")]))],
        "{amount} {from_unit} in {to_unit}", ["How much is {clause}?", "Convert {clause}.", "What is {clause}?"],
        lambda a: {"converted": _r(a["amount"] * KITCHEN_ML[a["from_unit"]] / KITCHEN_ML[a["to_unit"]])},
        "{amount} {from_unit} is {converted} {to_unit}.", "converted", group="unit_conversion",
    ),
    ToolTemplate(
        "estimate_home_value", "Estimate the market value of a home.",
        ["Automated valuation of a house or flat for sale.", "What a property would sell for."],
        [Param("city", S("City of the property"), True, pick(CITIES)),
         Param("bedrooms", I("Number of bedrooms"), True, integer(1, 5)),
         Param("floor_area_sqm", N("Floor area in square metres"), True, number(35, 240, 0)),
         Param("amenities", AE("Features of the property", AMENITIES), False, word_list(AMENITIES, 1, 3),
               " with a {}"),
         Param("year_built", I("Year of construction"), False, integer(1900, 2024), ", built in {}")],
        "the market value of a {bedrooms}-bedroom home of {floor_area_sqm} square metres in {city}", ASK,
        lambda a: {"estimated_value": int(round(_home(a, (2500, 12000)), -3)), "currency": "USD"},
        "The home is worth about {estimated_value} {currency}.", "estimated_value", group="real_estate",
    ),
    ToolTemplate(
        "estimate_monthly_rent", "Estimate the monthly rent of a home.",
        ["Expected rent per month for a house or flat.", "What a property would let for each month."],
        [Param("city", S("City of the property"), True, pick(CITIES)),
         Param("bedrooms", I("Number of bedrooms"), True, integer(1, 5)),
         Param("floor_area_sqm", N("Floor area in square metres"), True, number(35, 240, 0)),
         Param("amenities", AE("Features of the property", AMENITIES), False, word_list(AMENITIES, 1, 3),
               " with a {}"),
         Param("furnished", B("The home is let furnished"), False, boolean("furnished"), ", {}")],
        "the monthly rent for a {bedrooms}-bedroom home of {floor_area_sqm} square metres in {city}", ASK,
        lambda a: {"monthly_rent": int(round(_home(a, (10, 40)) * (1.1 if a.get("furnished") else 1), -1)),
                   "currency": "USD"},
        "The rent would be about {monthly_rent} {currency} a month.", "monthly_rent", group="real_estate",
    ),
    ToolTemplate(
        "planet_orbital_period", "Get how long a planet takes to orbit the Sun.",
        ["Length of a planet's year.", "Sidereal orbital period of a planet of the solar system."],
        [Param("planet", E("The planet", list(PLANETS)), True, pick(list(PLANETS))),
         Param("unit", E("Unit (default days)", ["days", "years"]), False,
               worded([("days", "days"), ("years", "Earth years")]), " in {}")],
        "the orbital period of {planet}", ASK,
        lambda a: {"period": _r(PLANETS[a["planet"]][0] / (365.256 if a.get("unit") == "years" else 1)),
                   "period_unit": "Earth years" if a.get("unit") == "years" else "days"},
        "{planet} orbits the Sun in {period} {period_unit}.", "period", group="planets",
    ),
    ToolTemplate(
        "planet_surface_gravity", "Get the gravitational acceleration at a planet's surface.",
        ["How strongly a planet pulls at its surface.", "Surface gravity of a planet of the solar system."],
        [Param("planet", E("The planet", list(PLANETS)), True, pick(list(PLANETS))),
         Param("relative_to_earth", B("Give the value as a multiple of Earth's gravity"), False,
               boolean("relative to Earth's gravity"), ", {}")],
        "the surface gravity of {planet}", ASK,
        lambda a: ({"gravity": _r(PLANETS[a["planet"]][1] / 9.81), "unit": "g"} if a.get("relative_to_earth")
                   else {"gravity": PLANETS[a["planet"]][1], "unit": "m/s^2"}),
        "The surface gravity of {planet} is {gravity} {unit}.", "gravity", group="planets",
    ),
    ToolTemplate(
        "count_table_rows", "Count the rows of a database table that meet a condition.",
        ["Number of records matching a filter.", "SQL-style COUNT(*) with a WHERE condition."],
        [Param("table", S("Table name"), True, pick(["orders", "customers", "tickets", "subscriptions"])),
         Param("condition", FILTER_SCHEMA, True, row_filter),
         Param("database", S("Database name"), False, pick(["sales", "support", "analytics"]), " in the {} database")],
        "the number of rows in the {table} table where {condition}", ASK + ["Count {clause}."],
        looked_up("row_count", 0, 5000), "{row_count} rows in {table} match.", "row_count", group="database",
    ),
    ToolTemplate(
        "sum_table_column", "Add up a numeric column of a database table, optionally over matching rows only.",
        ["Total of a column, like SQL SUM.", "Sum the values of one column of a table."],
        [Param("table", S("Table name"), True, pick(["orders", "invoices", "payments", "refunds"])),
         Param("column", S("Numeric column to add up"), True, pick(["amount", "quantity", "tax"])),
         Param("condition", FILTER_SCHEMA, False, row_filter, " where {}"),
         Param("database", S("Database name"), False, pick(["sales", "finance", "analytics"]), " in the {} database")],
        "the total of the {column} column of the {table} table", ASK,
        looked_up("total", 100, 900000, 2), "The {column} column of {table} adds up to {total}.", "total",
        group="database",
    ),
    ToolTemplate(
        "historical_event_date", "Get the date on which a historical event took place.",
        ["When something happened in history.", "Date look-up for a well-known historical event."],
        [Param("event", S("Name of the historical event"), True, pick(list(HISTORY)))],
        "the date of {event}", ["What was {clause}?", "Tell me {clause}.", "I need {clause}."],
        lambda a: {"date": HISTORY[a["event"]][0]}, "It happened on {date}.", "date", group="history",
    ),
    ToolTemplate(
        "historical_event_place", "Get where a historical event took place.",
        ["Location of a well-known historical event.", "Where something happened in history."],
        [Param("event", S("Name of the historical event"), True, pick(list(HISTORY))),
         Param("detailed", B("Also give the country it lies in today"), False, boolean("with details"), ", {}")],
        "the location of {event}", ["What was {clause}?", "Tell me {clause}.", "I need {clause}."],
        lambda a: {"place": HISTORY[a["event"]][1], **({"country_today": HISTORY[a["event"]][2]}
                                                         if a.get("detailed") else {})},
        "It took place in {place}.", "place", group="history",
    ),
    ToolTemplate(
        "find_used_cars", "Search used cars for sale by body type and budget.",
        ["Listings of second-hand cars of a given type under a price.", "Used car search."],
        [Param("type", S("Body type of the car, e.g. sedan"), True, pick(CAR_TYPES)),
         Param("max_price", I("Highest price in US dollars"), True, pick_int([8000, 12000, 15000, 20000, 30000]),
               money=True),
         Param("city", S("City to search in"), False, pick(CITIES), " in {}")],
        "used {type} listings priced under {max_price}",
        ["Find {clause}.", "Search for {clause}.", "Please find {clause}.", "Can you look up {clause}?"],
        _used_cars, "I found {listings} listings; the cheapest is {cheapest} dollars.", "listings", group="cars",
    ),
    ToolTemplate(
        "quote_car_insurance", "Estimate the yearly insurance premium for a car.",
        ["Car insurance quote from the body type and the driver's age.", "How much insuring a car costs."],
        [Param("type", S("Body type of the car, e.g. sedan"), True, pick(CAR_TYPES)),
         Param("driver_age", I("Age of the main driver in years"), True, integer(18, 80)),
         Param("coverage", E("Kind of cover", ["liability", "comprehensive"]), False,
               pick(["liability", "comprehensive"]), " with {} cover")],
        "the yearly insurance premium for a {type} with a {driver_age}-year-old driver", ASK,
        _car_insurance, "The premium is about {yearly_premium} dollars a year.", "yearly_premium", group="cars",
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
