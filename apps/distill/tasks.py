"""Task material for the built-in tools: interpreter problems, a synthetic web, a document bank, small talk.

Every generator takes a `random.Random` and returns plain data; nothing here runs a tool. The values a
task expects are computed here in the generator's own process, independently of the code the example
asks the sandbox to run, so that a mismatch between the two drops the example.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "CHIT_CHAT",
    "FACTS",
    "NEAR_MISSES",
    "NO_TOOL_FITS",
    "CodeTask",
    "Document",
    "WebFact",
    "code_task",
    "documents",
    "near_miss_request",
    "unserved_request",
    "web_fact",
]


@dataclass
class CodeTask:
    """A question whose answer is computed by running `code`; `expected` is the exact printed output."""

    question: str
    code: str
    expected: str
    answer: str  # final answer with an {value} slot


PY_HINTS = [
    "",
    "",
    " Use Python.",
    " Use the code interpreter.",
    " Please compute it with Python.",
    " Run code for it.",
]
WORDS = ["banana", "interpreter", "mississippi", "llama", "parallel", "stochastic", "keyboard", "rhythm"]
SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "she sells sea shells by the sea shore",
    "every engineer reviews the release notes",
    "green tea helps me focus in the evening",
]


def code_task(rng: random.Random) -> CodeTask:
    """One interpreter problem (arithmetic, number theory, statistics, strings, dates, data)."""
    hint = rng.choice(PY_HINTS)
    kind = rng.randrange(14)
    if kind <= 2:
        a, b = rng.randint(100, 99999), rng.randint(100, 99999)
        op, word = rng.choice([("*", "times"), ("+", "plus"), ("-", "minus")])
        value = {"*": a * b, "+": a + b, "-": a - b}[op]
        q = rng.choice([f"What is {a} {op} {b}?", f"Compute {a} {word} {b}.", f"Calculate {a} {op} {b}."])
        return CodeTask(q + hint, f"print({a} {op} {b})", str(value), f"{a} {op} {b} = {{value}}.")
    if kind == 3:
        a, b = rng.randint(2, 19), rng.randint(5, 25)
        return CodeTask(
            f"What is {a} to the power of {b}?{hint}",
            f"print({a} ** {b})",
            str(a**b),
            f"{a}^{b} = {{value}}.",
        )
    if kind == 4:
        n = rng.randint(50, 5000)
        code = (
            f"n = {n}\nsieve = [True] * n\nsieve[0:2] = [False, False]\n"
            "for i in range(2, int(n ** 0.5) + 1):\n    if sieve[i]:\n"
            "        sieve[i * i::i] = [False] * len(sieve[i * i::i])\nprint(sum(sieve))"
        )
        count = sum(1 for k in range(2, n) if all(k % d for d in range(2, math.isqrt(k) + 1)))
        return CodeTask(
            f"How many prime numbers are there below {n}?{hint}", code, str(count),
            f"There are {{value}} primes below {n}.",
        )  # fmt: skip
    if kind == 5:
        n = rng.randint(20, 90)
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        code = f"a, b = 0, 1\nfor _ in range({n}):\n    a, b = b, a + b\nprint(a)"
        return CodeTask(
            f"What is the {n}th Fibonacci number (F(0) = 0)?{hint}", code, str(a),
            f"The {n}th Fibonacci number is {{value}}.",
        )  # fmt: skip
    if kind == 6:
        x = rng.randint(2, 99999)
        value = round(math.sqrt(x), 3)
        return CodeTask(
            f"What is the square root of {x}, rounded to 3 decimals?{hint}",
            f"import math\nprint(round(math.sqrt({x}), 3))", str(value),
            f"The square root of {x} is about {{value}}.",
        )  # fmt: skip
    if kind == 7:
        xs = [rng.randint(1, 500) for _ in range(rng.randint(5, 9))]
        which = rng.choice(["mean", "median"])
        value = round(statistics.mean(xs), 2) if which == "mean" else statistics.median(xs)
        expr = f"round(statistics.mean({xs}), 2)" if which == "mean" else f"statistics.median({xs})"
        return CodeTask(
            f"What is the {which} of {xs}?{hint}", f"import statistics\nprint({expr})", str(value),
            f"The {which} is {{value}}.",
        )  # fmt: skip
    if kind == 8:
        w = rng.choice(WORDS) + rng.choice(["", "s", "ing"])
        return CodeTask(
            f"Reverse the string '{w}'.{hint or ' Use Python.'}", f"print({w!r}[::-1])", w[::-1],
            "The reversed string is {value}.",
        )  # fmt: skip
    if kind == 9:
        s, letter = rng.choice(SENTENCES), rng.choice("aeost")
        return CodeTask(
            f"How many times does the letter '{letter}' appear in '{s}'?{hint}",
            f"print({s!r}.count({letter!r}))", str(s.count(letter)),
            f"The letter '{letter}' appears {{value}} times.",
        )  # fmt: skip
    if kind == 10:
        d1 = date(2020, 1, 1) + timedelta(days=rng.randint(0, 2500))
        d2 = d1 + timedelta(days=rng.randint(10, 1500))
        code = f"from datetime import date\nprint((date({d2.year}, {d2.month}, {d2.day}) - date({d1.year}, {d1.month}, {d1.day})).days)"
        return CodeTask(
            f"How many days are there between {d1.isoformat()} and {d2.isoformat()}?{hint}", code,
            str((d2 - d1).days), "There are {value} days between the two dates.",
        )  # fmt: skip
    if kind == 11:
        d = date(2000, 1, 1) + timedelta(days=rng.randint(0, 12000))
        code = f"from datetime import date\nprint(date({d.year}, {d.month}, {d.day}).strftime('%A'))"
        return CodeTask(
            f"What day of the week was {d.isoformat()}?{hint}", code, d.strftime("%A"),
            f"{d.isoformat()} was a {{value}}.",
        )  # fmt: skip
    if kind == 12:
        a, b = rng.randint(1000, 999999), rng.randint(3, 997)
        value = round(a / b, 4)
        return CodeTask(
            f"What is {a} divided by {b}, rounded to 4 decimal places?{hint}", f"print(round({a} / {b}, 4))",
            str(value), f"{a} / {b} is about {{value}}.",
        )  # fmt: skip
    items = rng.sample(["apples", "pears", "plums", "kiwis", "figs", "limes"], 4)
    qty = [rng.randint(1, 60) for _ in items]
    price = [round(rng.uniform(0.2, 4.0), 2) for _ in items]
    total = round(sum(q * p for q, p in zip(qty, price, strict=True)), 2)
    code = (
        "import pandas as pd\n"
        f"df = pd.DataFrame({{'item': {items}, 'qty': {qty}, 'price': {price}}})\n"
        "print(round((df['qty'] * df['price']).sum(), 2))"
    )
    table = "; ".join(f"{i}: {q} at {p}" for i, q, p in zip(items, qty, price, strict=True))
    return CodeTask(
        f"I bought {table} (quantity at unit price). What did I spend in total?{hint}", code, str(total),
        "You spent {value} in total.",
    )  # fmt: skip


@dataclass
class WebFact:
    """A fact only a (synthetic) web search knows: the question, the query, the pages, the answer."""

    question: str
    query: str
    pages: list[dict[str, str]]  # ddgs-style {"title", "href", "body"}; the first one holds the fact
    value: str
    answer: str


PROJECTS = [
    "Quillon",
    "Zentrix",
    "Parsnip",
    "Hexagrid",
    "Lumora",
    "Corvex",
    "Tessellate",
    "Brightline",
    "Mosaic DB",
]
COMPANIES = [
    "Northwind Labs",
    "Bluefin Robotics",
    "Aster Energy",
    "Cobalt Foods",
    "Helix Freight",
    "Orchid Bank",
]
EVENTS = ["Riverton marathon", "Lakeside chess open", "Port Ellis film festival", "Granite City cup final"]
PEOPLE = ["Maria Lopez", "Kenji Sato", "Amara Okafor", "Liam Walsh", "Priya Nair", "Jonas Berg", "Hana Kim"]
GOODS = ["gold", "silver", "copper", "coffee beans", "wheat", "crude oil"]


def _distractors(rng: random.Random, subject: str) -> list[dict[str, str]]:
    pages = [
        {"title": f"{subject} - Wikipedia", "href": f"https://en.wikipedia.example/wiki/{subject.replace(' ', '_')}",
         "body": f"{subject} is described in this encyclopedia article; see the history section."},
        {"title": f"Forum: questions about {subject}", "href": f"https://forum.example/t/{rng.randint(1000, 9999)}",
         "body": f"Users discuss {subject} and share tips."},
    ]  # fmt: skip
    rng.shuffle(pages)
    return pages[: rng.randint(1, 2)]


def web_fact(rng: random.Random) -> WebFact:
    """A question about something current, with synthetic result pages that answer it."""
    kind = rng.randrange(6)
    if kind == 0:
        p = rng.choice(PROJECTS)
        v = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        page = {"title": f"{p} {v} released", "href": f"https://{p.lower().replace(' ', '')}.example/news",
                "body": f"{p} {v} is the latest stable release, published this month with bug fixes."}  # fmt: skip
        q = rng.choice([f"What is the latest version of {p}?", f"Which {p} release is the newest?"])
        return WebFact(
            q, f"{p} latest version", [page, *_distractors(rng, p)], v, f"The latest version of {p} is {v}."
        )
    if kind == 1:
        c, person = rng.choice(COMPANIES), rng.choice(PEOPLE)
        page = {"title": f"{c} names {person} chief executive", "href": "https://business.example/news/ceo",
                "body": f"{c} announced that {person} is its new CEO, effective immediately."}  # fmt: skip
        q = rng.choice([f"Who is the current CEO of {c}?", f"Who runs {c} now?"])
        return WebFact(q, f"{c} CEO", [page, *_distractors(rng, c)], person, f"{person} is the CEO of {c}.")
    if kind == 2:
        e, person = rng.choice(EVENTS), rng.choice(PEOPLE)
        page = {"title": f"{person} wins the {e}", "href": "https://sports.example/results",
                "body": f"{person} won this year's {e} ahead of a strong field."}  # fmt: skip
        q = rng.choice([f"Who won the {e} this year?", f"Who is the winner of the latest {e}?"])
        return WebFact(q, f"{e} winner", [page, *_distractors(rng, e)], person, f"{person} won the {e}.")
    if kind == 3:
        g = rng.choice(GOODS)
        price = f"{rng.uniform(2, 3000):.2f}"
        page = {"title": f"{g.title()} price today", "href": "https://markets.example/commodities",
                "body": f"{g.title()} is trading at {price} USD per unit today, markets report."}  # fmt: skip
        q = rng.choice([f"What is the price of {g} today?", f"How much does {g} cost right now?"])
        return WebFact(
            q,
            f"{g} price today",
            [page, *_distractors(rng, g)],
            price,
            f"{g.title()} costs {price} USD today.",
        )
    if kind == 4:
        city = rng.choice(["Oslo", "Lima", "Accra", "Perth", "Quito", "Dublin", "Osaka"])
        t = str(rng.randint(-8, 36))
        page = {"title": f"{city} weather forecast", "href": "https://weather.example/forecast",
                "body": f"Tomorrow in {city}: a high of {t} degrees Celsius with light wind."}  # fmt: skip
        q = f"What will the temperature be in {city} tomorrow?"
        return WebFact(q, f"{city} weather tomorrow", [page, *_distractors(rng, city)], t,
                       f"Tomorrow's high in {city} is {t} degrees Celsius.")  # fmt: skip
    p = rng.choice(PROJECTS)
    d = (date(2026, 1, 1) + timedelta(days=rng.randint(0, 360))).isoformat()
    page = {"title": f"{p} conference announced", "href": "https://events.example/conf",
            "body": f"The {p} community conference will take place on {d} online."}  # fmt: skip
    q = f"When is the next {p} conference?"
    return WebFact(
        q, f"{p} conference date", [page, *_distractors(rng, p)], d, f"The next {p} conference is on {d}."
    )


@dataclass
class Document:
    """A document of the synthetic bank and a question only it answers."""

    title: str
    text: str
    question: str
    query: str
    value: str
    answer: str  # with a [1] citation


ORGS = ["Northwind", "Bluefin", "Asterix Co", "Cobalt", "Helix"]


def documents(rng: random.Random, count: int = 48) -> list[Document]:
    """A bank of short policy and project documents of fictional organisations, each with a question."""
    out: list[Document] = []
    seen: set[str] = set()
    while len(out) < count:
        org = rng.choice(ORGS)
        kind = rng.randrange(6)
        if kind == 0:
            n = str(rng.randint(18, 35))
            title = f"{org} vacation policy"
            text = (
                f"{org} staff receive {n} paid vacation days per calendar year. Unused days expire in March."
            )
            q, query, ans = (
                f"How many vacation days do {org} employees get?",
                f"{org} vacation days",
                f"{org} employees get {n} vacation days per year [1].",
            )
        elif kind == 1:
            n = str(rng.randint(80, 240))
            title = f"{org} travel policy"
            text = f"At {org}, hotel costs are reimbursed up to {n} EUR per night on business trips."
            q, query, ans = (
                f"What is the hotel limit per night in the {org} travel policy?",
                f"{org} hotel limit per night",
                f"The limit is {n} EUR per night [1].",
            )
        elif kind == 2:
            n = f"{rng.randint(8, 10)}:{rng.choice(['00', '30'])}"
            title = f"{org} office hours"
            text = f"The {org} office opens at {n} on weekdays; the front desk closes at 18:00."
            q, query, ans = (
                f"When does the {org} office open?",
                f"{org} office opening time",
                f"The {org} office opens at {n} on weekdays [1].",
            )
        elif kind == 3:
            n = str(rng.randint(1000, 9000) * 10)
            proj = rng.choice(["Atlas", "Beacon", "Cedar", "Drift", "Ember", "Fjord"])
            title = f"Project {proj} budget ({org})"
            text = f"Project {proj} at {org} has an approved budget of {n} EUR for this year."
            q, query, ans = (
                f"What is the budget of project {proj} at {org}?",
                f"project {proj} budget {org}",
                f"Project {proj} has a budget of {n} EUR [1].",
            )
        elif kind == 4:
            person = rng.choice(PEOPLE)
            team = rng.choice(["security", "payroll", "facilities", "data platform", "support"])
            title = f"{org} {team} team"
            text = f"The {team} team at {org} is led by {person}; questions go to the team channel."
            n = person
            q, query, ans = (
                f"Who leads the {team} team at {org}?",
                f"{org} {team} team lead",
                f"{person} leads the {team} team [1].",
            )
        else:
            n = str(rng.randint(2, 12))
            title = f"{org} remote work policy"
            text = (
                f"{org} employees may work remotely up to {n} days per month with their manager's approval."
            )
            q, query, ans = (
                f"How many remote work days per month are allowed at {org}?",
                f"{org} remote work days",
                f"Up to {n} remote days per month are allowed [1].",
            )
        if title in seen:
            continue
        seen.add(title)
        out.append(Document(title, text, q, query, n, ans))
    return out


FACTS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("What is the capital of Japan?", "The capital of Japan is Tokyo."),
    ("What is the capital of Italy?", "The capital of Italy is Rome."),
    ("What is the capital of Canada?", "The capital of Canada is Ottawa."),
    ("What is the largest planet in our solar system?", "Jupiter is the largest planet in our solar system."),
    ("How many days are in a week?", "A week has seven days."),
    ("What color do you get by mixing blue and yellow?", "Mixing blue and yellow gives green."),
    ("What is H2O?", "H2O is water: two hydrogen atoms and one oxygen atom."),
    ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
    ("What is 2 + 2?", "2 + 2 = 4."),
    ("What is 3 times 4?", "3 times 4 is 12."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What is the boiling point of water at sea level in Celsius?", "Water boils at 100 degrees Celsius at sea level."),
    ("What does CPU stand for?", "CPU stands for central processing unit."),
    ("Which ocean is the largest?", "The Pacific Ocean is the largest."),
    ("What is the opposite of hot?", "The opposite of hot is cold."),
    ("How many minutes are in an hour?", "An hour has 60 minutes."),
    ("What language is spoken in Brazil?", "The main language of Brazil is Portuguese."),
    ("What is photosynthesis?", "Photosynthesis is how plants turn light, water and carbon dioxide into sugar and oxygen."),
    ("Give me a synonym for happy.", "A synonym for happy is joyful."),
    ("Write a haiku about the sea.", "Waves fold into foam,\nsalt wind carries gull voices,\nthe tide keeps its time."),
    ("Tell me a short joke.", "Why did the scarecrow win an award? Because he was outstanding in his field."),
    ("What is a prime number?", "A prime number is a whole number above 1 whose only divisors are 1 and itself."),
    ("Translate 'thank you' into Spanish.", "'Thank you' in Spanish is 'gracias'."),
    ("What is the plural of mouse?", "The plural of mouse is mice."),
]  # fmt: skip

CHIT_CHAT = [
    ("How are you doing today?", "I'm doing well, thank you! How can I help you today?"),
    ("Hello!", "Hello! What can I do for you?"),
    ("Good morning.", "Good morning! How can I help?"),
    ("Thanks for your help.", "You're welcome! Let me know if you need anything else."),
    ("Thank you!", "You're welcome!"),
    ("Who are you?", "I'm a helpful assistant. I can answer questions and use tools when a task needs them."),
    ("What can you do?", "I can answer questions, and use the tools I have been given, such as running code or searching."),
    ("Bye!", "Goodbye! Have a great day."),
    ("How's it going?", "It's going well, thanks for asking! What would you like to do?"),
    ("Nice to meet you.", "Nice to meet you too! How can I help?"),
    ("Can you help me?", "Of course. What do you need help with?"),
    ("I'm bored.", "How about a short walk, a puzzle, or learning something new? I can suggest a topic if you like."),
    ("Good night!", "Good night, sleep well!"),
    ("You are great.", "Thank you, that's kind of you!"),
    ("Hey there", "Hey! What can I do for you today?"),
]  # fmt: skip


def unserved_request(rng: random.Random) -> tuple[str, str]:
    """A request that none of the built-in tools (code, web search, documents) can carry out."""
    pairs = [
        ("Book me a table for two at 8 pm tonight.", "I can't make reservations: I have no booking tool. "
         "You could call the restaurant or use its booking site."),
        ("Turn off the lights in the living room.", "I can't control devices: none of my tools can do that."),
        ("Send a text message to my brother.", "I can't send messages: none of my tools can do that."),
        ("Order a pizza to my home.", "I can't place orders: none of my tools can do that."),
        ("Play some jazz music.", "I can't play music: none of my tools can do that."),
        ("Transfer 50 dollars to Anna.", "I can't make payments: none of my tools can do that."),
        ("Call a taxi to the airport.", "I can't book a taxi: none of my tools can do that."),
    ]  # fmt: skip
    return rng.choice(pairs)


NO_TOOL_FITS = [
    "None of the available functions can do this, so I can't help with that request using my tools.",
    "I can't do that: none of the functions I have access to covers this request.",
    "The provided functions don't support this request, so I can't complete it.",
]

_CITIES = ["Paris", "Tokyo", "Nairobi", "Lima", "Oslo", "Toronto", "Cairo", "Sydney", "Berlin", "Dublin"]
_NAMES = ["Maria", "Kenji", "Amara", "Liam", "Priya", "Jonas", "Hana"]

# Near misses: per catalogue template, requests in the tool's own domain that it does not serve (another
# quantity, another operation, a definition or a fact about the domain). `{city}`, `{n}` and `{name}` are
# filled at random; an answer of None is one of NO_TOOL_FITS. Modelled on the kind of item in BFCL's
# `irrelevance` category (a function of the right topic that cannot answer the question), never copied
# from it: the data must not contain BFCL items.
NEAR_MISSES: dict[str, list[tuple[str, str | None]]] = {
    "get_current_weather": [
        ("What was the average rainfall in {city} in 1990?", None),
        (
            "Why is the sky blue?",
            "Sunlight is scattered by air molecules, and blue light scatters the most, "
            "so the sky looks blue.",
        ),
        (
            "Which season has the longest days in the northern hemisphere?",
            "Summer: the longest day is around 21 June.",
        ),
    ],
    "get_stock_price": [
        ("Who founded the New York Stock Exchange?", None),
        (
            "What does a stock's dividend yield mean?",
            "It is the yearly dividend divided by the share price, as a percentage.",
        ),
        ("Open a brokerage account for me.", None),
    ],
    "convert_currency": [
        ("Which country uses the yen?", "Japan uses the yen."),
        ("Why did inflation rise in {city} last decade?", None),
        ("Print a 20 euro banknote design for me.", None),
    ],
    "calculate_circle_area": [
        ("What is the volume of a sphere with radius {n}?", None),
        ("What is the surface area of a cube with side {n}?", None),
        ("Who first proved that pi is irrational?", "Johann Heinrich Lambert proved it in 1761."),
    ],
    "calculate_rectangle_perimeter": [
        ("What is the circumference of the Earth?", "About 40,075 km around the equator."),
        ("Find the area of a hexagon with side {n}.", None),
        ("How many sides does a pentagon have?", "A pentagon has five sides."),
    ],
    "compound_interest": [
        ("Who sets the interest rate of the European Central Bank?", "Its Governing Council sets it."),
        ("Is now a good time to buy a house in {city}?", None),
        ("Calculate my income tax for a salary of {n}000.", None),
    ],
    "calculate_bmi": [
        ("How many calories are in a banana?", None),
        ("What is a healthy resting heart rate?", "For adults, roughly 60 to 100 beats per minute."),
        ("Recommend a diet plan to lose weight.", None),
    ],
    "factorial": [
        ("Is {n} a prime number?", None),
        ("What is {n} to the power of 3?", None),
        (
            "Who invented the exclamation mark notation for factorials?",
            "Christian Kramp introduced n! in 1808.",
        ),
    ],
    "greatest_common_divisor": [
        ("What is the square root of {n}?", None),
        ("Solve the equation 2x + 3 = {n}.", None),
        ("What is a prime number?", "A whole number above 1 whose only divisors are 1 and itself."),
    ],
    "average": [
        ("What is the standard deviation of 4, 8, 15 and {n}?", None),
        ("Sort these numbers from largest to smallest: 7, {n}, 3.", None),
        ("What does median mean?", "The middle value of a sorted list of numbers."),
    ],
    "get_distance": [
        ("How far is the Moon from the Earth?", "About 384,400 km on average."),
        ("Which train goes from {city} to the airport?", None),
        ("How high is Mount Everest?", "Mount Everest is 8,849 metres high."),
    ],
    "search_flights": [
        ("What is the busiest airport in the world?", None),
        ("Cancel my flight booking to {city}.", None),
        ("Who made the first powered airplane flight?", "The Wright brothers, in 1903."),
    ],
    "book_hotel": [
        ("Rent a car for me in {city} next week.", None),
        ("What are the must-see museums in {city}?", None),
        ("What is the tallest hotel in the world?", None),
    ],
    "find_restaurants": [
        ("How do I make a sourdough starter?", None),
        ("Who is the most famous chef in {city}?", None),
        ("What is the main ingredient of guacamole?", "Avocado is the main ingredient of guacamole."),
    ],
    "translate_text": [
        ("How many people speak Spanish worldwide?", None),
        ("What is the oldest written language?", None),
        ("Correct the grammar of my essay about {city}.", None),
    ],
    "send_email": [
        ("Call {name} on the phone.", None),
        ("What is my email password?", None),
        ("Who invented email?", "Ray Tomlinson sent the first networked email in 1971."),
    ],
    "create_calendar_event": [
        ("What day of the week was 1 January 2000?", "1 January 2000 was a Saturday."),
        ("When is the next public holiday in {city}?", None),
        ("How many days does February have in a leap year?", "February has 29 days in a leap year."),
    ],
    "get_recipe": [
        ("How many calories does an hour of cycling burn?", None),
        ("Order the ingredients for lasagna from a grocery store.", None),
        (
            "At what temperature does water boil at sea level?",
            "Water boils at 100 degrees Celsius at sea level.",
        ),
    ],
    "convert_length": [
        ("Convert {n} kilograms to pounds.", None),
        ("How many seconds are in a day?", "A day has 86,400 seconds."),
        ("Convert {n} degrees Celsius to Fahrenheit.", None),
    ],
    "get_match_score": [
        ("Who won the first football World Cup?", "Uruguay won the first World Cup, in 1930."),
        ("Buy two tickets for the next match in {city}.", None),
        ("How many players are on a basketball team on court?", "Five players per team are on the court."),
    ],
    "get_population": [
        ("What is the area of {city} in square kilometres?", None),
        ("Who is the mayor of {city}?", None),
        ("Which is the most populous country?", None),
    ],
    "get_local_time": [
        ("How many time zones does Russia have?", "Russia has eleven time zones."),
        ("What will the weather be in {city} tomorrow?", None),
        ("When does daylight saving time start in {city}?", None),
    ],
    "get_news_headlines": [
        ("Who won the Nobel Prize in Literature in 1950?", "Bertrand Russell won it in 1950."),
        ("Write a news article about a new park in {city}.", None),
        ("What is the oldest newspaper still published?", None),
    ],
    "search_books": [
        ("Who wrote Pride and Prejudice?", "Jane Austen wrote Pride and Prejudice."),
        ("Summarize the plot of a novel set in {city}.", None),
        ("Renew my library loan.", None),
    ],
    "estimate_calories": [
        ("How much protein should an adult eat per day?", None),
        ("Create a workout plan for me for next month.", None),
        ("How many bones are in the adult human body?", "An adult has 206 bones."),
    ],
    "monthly_loan_payment": [
        ("What is my credit score?", None),
        ("Should I refinance my mortgage?", None),
        ("What does APR stand for?", "APR stands for annual percentage rate."),
    ],
    "apply_discount": [
        ("Which shop in {city} has the best prices?", None),
        ("Calculate the sales tax on a {n} dollar purchase in {city}.", None),
        ("Return the shoes I bought last week.", None),
    ],
    "kinetic_energy": [
        ("What is the unit of force?", "The newton is the unit of force."),
        ("Calculate the potential energy of a {n} kg object 10 m above the ground.", None),
        ("What is the speed of light?", "About 299,792 km per second in a vacuum."),
    ],
    "set_reminder": [
        ("Wake me up by calling my phone at 6.", None),
        ("What time is sunrise in {city}?", None),
        ("Delete all my alarms.", None),
    ],
    "get_air_quality": [
        ("What causes acid rain?", "Sulfur dioxide and nitrogen oxides that react with water in the air."),
        ("What is the pollen count in {city} next week?", None),
        ("Plant a tree in my name.", None),
    ],
    "count_words": [
        ("Write a poem about {city}.", None),
        ("What is the longest word in English?", None),
        ("Translate this sentence into French: the cat sleeps.", None),
    ],
}


def near_miss_request(rng: random.Random, template: str) -> tuple[str, str]:
    """(request, reply) in `template`'s domain that its tool does not serve; KeyError for an unknown one."""
    question, answer = rng.choice(NEAR_MISSES[template])
    question = question.format(city=rng.choice(_CITIES), n=rng.randint(12, 99), name=rng.choice(_NAMES))
    return question, answer or rng.choice(NO_TOOL_FITS)
