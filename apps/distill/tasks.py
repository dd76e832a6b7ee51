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
        ("What was the record low temperature ever measured in {city}?", None),
        ("What will the weather be like in {city} next weekend?", None),
        (
            "What is the best way to dress for a cold, windy day?",
            "Wear several thin layers under a windproof jacket, and cover your head and hands.",
        ),
        (
            "What is the difference between weather and climate?",
            "Weather is the state of the atmosphere over hours or days; climate is the average weather "
            "over decades.",
        ),
        (
            "What does the 'feels like' temperature in a forecast mean?",
            "It is how warm or cold the air feels on the skin once wind and humidity are taken into account.",
        ),
    ],
    "get_stock_price": [
        ("Who founded the New York Stock Exchange?", None),
        (
            "What does a stock's dividend yield mean?",
            "It is the yearly dividend divided by the share price, as a percentage.",
        ),
        ("Open a brokerage account for me.", None),
        ("What was the highest price of ACME stock over the last 52 weeks?", None),
        ("Buy {n} shares of ORBT for me.", None),
        (
            "What does a P/E ratio tell me?",
            "The price-to-earnings ratio is the share price divided by earnings per share: what investors "
            "pay for each unit of yearly profit.",
        ),
        (
            "What is the best way for a beginner to start investing in stocks?",
            "Many beginners start with low-cost, diversified index funds and invest regularly for the long "
            "term.",
        ),
        (
            "What is the difference between a stock and a bond?",
            "A stock is a share of ownership in a company; a bond is a loan to a company or government "
            "that pays interest.",
        ),
    ],
    "convert_currency": [
        ("Which country uses the yen?", "Japan uses the yen."),
        ("Why did inflation rise in {city} last decade?", None),
        ("Print a 20 euro banknote design for me.", None),
        ("What was the euro to dollar exchange rate on 1 March 2015?", None),
        ("What fee will my bank charge to exchange {n}0 dollars?", None),
        ("Send {n}0 euros to {name} in another country.", None),
        ("Which currency is used in Switzerland?", "Switzerland uses the Swiss franc (CHF)."),
        (
            "What is the cheapest way to pay for things when travelling abroad?",
            "Usually a card without foreign transaction fees, paying in the local currency rather than "
            "accepting conversion at the card terminal.",
        ),
    ],
    "calculate_circle_area": [
        ("What is the volume of a sphere with radius {n}?", None),
        ("What is the surface area of a cube with side {n}?", None),
        ("Who first proved that pi is irrational?", "Johann Heinrich Lambert proved it in 1761."),
        ("What is the circumference of a circle with radius {n}?", None),
        ("What is the area of an ellipse with semi-axes {n} and 7?", None),
        ("What is the formula for the area of a circle?", "The area is pi times the radius squared."),
        ("What is pi to five decimal places?", "Pi is 3.14159 to five decimal places."),
        (
            "What is the best way to measure the radius of a round table?",
            "Measure the diameter across the widest point, through the centre, and divide it by two.",
        ),
    ],
    "calculate_rectangle_perimeter": [
        ("What is the circumference of the Earth?", "About 40,075 km around the equator."),
        ("Find the area of a hexagon with side {n}.", None),
        ("How many sides does a pentagon have?", "A pentagon has five sides."),
        ("What is the area of a rectangle with length {n} and width 8?", None),
        ("How long is the diagonal of a rectangle with sides {n} and 5?", None),
        (
            "What is the difference between a square and a rectangle?",
            "A square is a rectangle whose four sides are all equal; a rectangle only needs four right "
            "angles.",
        ),
        (
            "What is the sum of the interior angles of a rectangle?",
            "360 degrees: four right angles of 90 degrees each.",
        ),
        (
            "What is the best way to measure the perimeter of a room?",
            "Measure the length and the width along the walls with a tape measure, add them and double the "
            "sum.",
        ),
    ],
    "compound_interest": [
        ("Who sets the interest rate of the European Central Bank?", "Its Governing Council sets it."),
        ("Is now a good time to buy a house in {city}?", None),
        ("Calculate my income tax for a salary of {n}000.", None),
        ("What is the simple interest on {n}00 dollars at 4 percent for 3 years?", None),
        (
            "How much will I have after 10 years if I invest {n}00 dollars and add 100 dollars every month "
            "at 5 percent?",
            None,
        ),
        ("What yearly interest rate do I need for {n}00 dollars to double in 8 years?", None),
        (
            "Roughly how long does money take to double at 6 percent interest?",
            "About 12 years, by the rule of 72: divide 72 by the rate in percent.",
        ),
        (
            "What is the difference between APR and APY?",
            "APR is the yearly rate without compounding; APY includes the effect of compounding over the "
            "year.",
        ),
    ],
    "calculate_bmi": [
        ("How many calories are in a banana?", None),
        ("What is a healthy resting heart rate?", "For adults, roughly 60 to 100 beats per minute."),
        ("Recommend a diet plan to lose weight.", None),
        ("What is my body fat percentage if I weigh {n} kg?", None),
        ("What BMI-for-age percentile is a 9-year-old girl who weighs 30 kg and is 1.3 m tall?", None),
        (
            "What is a healthy BMI range for adults?",
            "For adults, a BMI from 18.5 to 24.9 is considered the healthy range.",
        ),
        (
            "What is the best way to measure my waist circumference?",
            "Measure around your bare waist just above the hip bones after breathing out, with the tape "
            "snug but not tight.",
        ),
        (
            "Is BMI a good measure for athletes?",
            "Not always: BMI does not tell muscle from fat, so a muscular, lean person can have a high BMI.",
        ),
    ],
    "factorial": [
        ("Is {n} a prime number?", None),
        ("What is {n} to the power of 3?", None),
        (
            "Who invented the exclamation mark notation for factorials?",
            "Christian Kramp introduced n! in 1808.",
        ),
        ("What is the double factorial of {n}?", None),
        ("What is the {n}th Fibonacci number?", None),
        (
            "What is the gamma function?",
            "It extends the factorial to real and complex numbers: Gamma(n) equals (n - 1)! for positive "
            "integers.",
        ),
        (
            "What is the factorial of 2.5?",
            "Factorials are defined for whole numbers; extended by the gamma function, 2.5! = Gamma(3.5), "
            "about 3.32.",
        ),
        (
            "What is the best way to approximate the factorial of a very large number?",
            "Use Stirling's approximation: n! is about the square root of 2 pi n, times (n/e) to the power "
            "n.",
        ),
    ],
    "greatest_common_divisor": [
        ("What is the square root of {n}?", None),
        ("Solve the equation 2x + 3 = {n}.", None),
        ("What is a prime number?", "A whole number above 1 whose only divisors are 1 and itself."),
        ("List all the divisors of {n}.", None),
        ("What is the prime factorization of {n}?", None),
        (
            "What does it mean for two numbers to be coprime?",
            "Two integers are coprime when their greatest common divisor is 1.",
        ),
        (
            "What is the best way to find the greatest common divisor by hand?",
            "Use Euclid's algorithm: replace the larger number by its remainder when divided by the "
            "smaller, until the remainder is 0; the last non-zero remainder is the GCD.",
        ),
        ("Is 1 a prime number?", "No: a prime has exactly two distinct divisors, and 1 has only one."),
    ],
    "average": [
        ("What is the standard deviation of 4, 8, 15 and {n}?", None),
        ("Sort these numbers from largest to smallest: 7, {n}, 3.", None),
        ("What does median mean?", "The middle value of a sorted list of numbers."),
        ("What is the weighted average of 80 with weight 2 and {n} with weight 3?", None),
        ("What is the geometric mean of 4 and {n}?", None),
        ("Calculate the moving average of my daily step counts over the last week.", None),
        ("What is the mode of 3, 5, 5, {n} and 9?", "The mode is 5, the value that appears most often."),
        (
            "When is the median a better summary than the average?",
            "When the data are skewed or have outliers, such as incomes, because extreme values pull the "
            "average but not the median.",
        ),
    ],
    "get_distance": [
        ("How far is the Moon from the Earth?", "About 384,400 km on average."),
        ("Which train goes from {city} to the airport?", None),
        ("How high is Mount Everest?", "Mount Everest is 8,849 metres high."),
        ("How many hours does it take to drive from Madrid to Lisbon?", None),
        ("What is the walking distance from the main station in {city} to the old town?", None),
        ("How much will the tolls cost on the drive from Paris to Lyon?", None),
        ("What is the straight-line distance from Paris to Berlin?", "About 880 km as the crow flies."),
        (
            "What is the best way to stay alert on a long drive?",
            "Sleep well beforehand, take a break of about 15 minutes every two hours and share the driving "
            "if you can.",
        ),
    ],
    "search_flights": [
        ("What is the busiest airport in the world?", None),
        ("Cancel my flight booking to {city}.", None),
        ("Who made the first powered airplane flight?", "The Wright brothers, in 1903."),
        ("What is the baggage allowance on an economy flight to {city}?", None),
        ("Check me in for my flight to {city} tomorrow.", None),
        ("Is my flight to {city} on time today?", None),
        (
            "What is the best time to book a flight to get a low fare?",
            "Booking several weeks to a few months ahead, with flexible dates, usually gives lower fares.",
        ),
        (
            "How long is a nonstop flight from London to New York?",
            "About 7 to 8 hours; the westbound flight is usually the longer one.",
        ),
    ],
    "book_hotel": [
        ("Rent a car for me in {city} next week.", None),
        ("What are the must-see museums in {city}?", None),
        ("What is the tallest hotel in the world?", None),
        ("Cancel my hotel reservation in {city}.", None),
        ("What is the average price of a hotel night in {city}?", None),
        ("Book a hotel room in {city} by the hour for an afternoon rest.", None),
        (
            "What time is check-out usually at a hotel?",
            "Check-out is usually in the late morning, often between 10 and 12 o'clock.",
        ),
        (
            "What is the difference between a hostel and a hotel?",
            "A hostel offers cheap, often shared rooms and common areas; a hotel offers private rooms and "
            "more services.",
        ),
    ],
    "find_restaurants": [
        ("How do I make a sourdough starter?", None),
        ("Who is the most famous chef in {city}?", None),
        ("What is the main ingredient of guacamole?", "Avocado is the main ingredient of guacamole."),
        ("Book a table for four at a restaurant in {city} tonight.", None),
        ("What are the opening hours of the {city} Bistro?", None),
        ("Find restaurants in {city} that are open after midnight.", None),
        (
            "How much should I tip at a restaurant in the United States?",
            "Around 15 to 20 percent of the bill is customary in the United States.",
        ),
        (
            "What is the difference between sushi and sashimi?",
            "Sushi is vinegared rice with toppings such as fish; sashimi is sliced raw fish served without "
            "rice.",
        ),
    ],
    "translate_text": [
        ("How many people speak Spanish worldwide?", None),
        ("What is the oldest written language?", None),
        ("Correct the grammar of my essay about {city}.", None),
        ("Transcribe the voicemail {name} left me into text.", None),
        ("Translate the menu in this photo into English.", None),
        (
            "Which language is this sentence in: 'obrigado pela ajuda'?",
            "It is Portuguese, and it means 'thank you for the help'.",
        ),
        (
            "What is the best way to learn a new language quickly?",
            "Practise a little every day, mixing vocabulary review with listening to and speaking with "
            "native speakers.",
        ),
        ("How many official languages does Switzerland have?", "Four: German, French, Italian and Romansh."),
    ],
    "send_email": [
        ("Call {name} on the phone.", None),
        ("What is my email password?", None),
        ("Who invented email?", "Ray Tomlinson sent the first networked email in 1971."),
        ("Read me my latest unread emails.", None),
        ("Send an email to {name} with the report attached as a PDF.", None),
        (
            "What does BCC mean in an email?",
            "Blind carbon copy: those recipients get the message, but the others cannot see their addresses.",
        ),
        (
            "What is the best way to write a clear email subject line?",
            "Keep it short and specific, naming the topic or the action needed, such as 'Budget review: "
            "approve by Friday'.",
        ),
        (
            "What is a polite way to follow up on an unanswered email?",
            "Wait a few working days, then reply in the same thread with a short, friendly reminder of "
            "what you need and by when.",
        ),
    ],
    "create_calendar_event": [
        ("What day of the week was 1 January 2000?", "1 January 2000 was a Saturday."),
        ("When is the next public holiday in {city}?", None),
        ("How many days does February have in a leap year?", "February has 29 days in a leap year."),
        ("What meetings do I have on Friday?", None),
        ("Invite {name} to my team sync on Thursday.", None),
        ("How many weeks are in a year?", "A year has 52 weeks plus one day, or two in a leap year."),
        (
            "What is the best way to run a short, effective meeting?",
            "Share an agenda beforehand, keep to a fixed time, and end with clear decisions and who does "
            "what.",
        ),
        (
            "What is the ISO 8601 date format?",
            "It writes dates as year-month-day, for example 2026-03-14, with the largest unit first.",
        ),
    ],
    "get_recipe": [
        (
            "What is the difference between baking soda and baking powder?",
            "Baking soda is pure sodium bicarbonate and needs an acid to react; baking powder already contains "
            "the acid, so moisture and heat are enough.",
        ),
        ("Order the ingredients for lasagna from a grocery store.", None),
        (
            "At what temperature does water boil at sea level?",
            "Water boils at 100 degrees Celsius at sea level.",
        ),
        ("How many calories are in a slice of banana bread?", None),
        ("Find a recipe for beef stew that is gluten-free and low in salt.", None),
        ("Make me a weekly meal plan for a family of four.", None),
        (
            "What can I use instead of eggs in baking?",
            "Mashed banana, apple sauce, or ground flaxseed mixed with water can replace eggs in many "
            "baked goods.",
        ),
        ("How long should I boil an egg for a soft yolk?", "About six minutes in boiling water."),
    ],
    "convert_length": [
        ("Convert {n} kilograms to pounds.", None),
        ("How many seconds are in a day?", "A day has 86,400 seconds."),
        ("Convert {n} degrees Celsius to Fahrenheit.", None),
        ("Convert {n} inches to centimetres.", None),
        ("How many nautical miles is {n} km?", None),
        ("Convert {n} square metres to square feet.", None),
        (
            "How is the metre defined?",
            "Since 1983, as the distance light travels in a vacuum in 1/299,792,458 of a second.",
        ),
        ("What is a light-year?", "The distance light travels in one year, about 9.46 trillion kilometres."),
    ],
    "get_match_score": [
        ("Who won the first football World Cup?", "Uruguay won the first World Cup, in 1930."),
        ("Buy two tickets for the next match in {city}.", None),
        ("How many players are on a basketball team on court?", "Five players per team are on the court."),
        ("Who scored the goals in the last Riverton Hawks match?", None),
        ("When is the next Lakeside United match?", None),
        ("What was the score of the Port Ellis FC match on 3 March 2024?", None),
        ("How long is a football match?", "Two halves of 45 minutes each, plus stoppage time."),
        (
            "What does offside mean in football?",
            "A player is offside if, when the ball is played to them, they are in the opponents' half and "
            "nearer the goal line than both the ball and the second-last opponent.",
        ),
    ],
    "get_population": [
        ("What is the area of {city} in square kilometres?", None),
        ("Who is the mayor of {city}?", None),
        ("Which is the most populous country?", None),
        ("What is the population density of {city}?", None),
        ("What is the median age of the people of {city}?", None),
        ("How many births were registered in {city} last year?", None),
        ("How many people live in France?", "France has about 68 million inhabitants."),
        (
            "What is the difference between a city's population and its metropolitan population?",
            "The city population counts residents within the city limits; the metropolitan population also "
            "includes the surrounding suburbs and towns.",
        ),
    ],
    "get_local_time": [
        ("How many time zones does Russia have?", "Russia has eleven time zones."),
        ("What will the weather be in {city} tomorrow?", None),
        ("When does daylight saving time start in {city}?", None),
        ("How many hours of daylight does {city} get today?", None),
        ("What is the UTC offset of {city} in winter?", None),
        ("What does UTC stand for?", "Coordinated Universal Time, the world's reference time standard."),
        (
            "What is the best way to get over jet lag?",
            "Switch to the local schedule at once: get daylight in the morning, stay awake until the local "
            "bedtime and drink enough water.",
        ),
        (
            "What is the International Date Line?",
            "A line, mostly along the 180th meridian in the Pacific Ocean, where the calendar date changes "
            "by one day.",
        ),
    ],
    "get_news_headlines": [
        ("Who won the Nobel Prize in Literature in 1950?", "Bertrand Russell won it in 1950."),
        ("Write a news article about a new park in {city}.", None),
        ("What is the oldest newspaper still published?", None),
        ("Show me the energy news from exactly one year ago.", None),
        ("Subscribe me to a daily newspaper.", None),
        ("Who owns the most read newspaper in {city}?", None),
        (
            "What is the difference between a news report and an opinion piece?",
            "A news report states events and facts; an opinion piece argues the writer's own view on them.",
        ),
        (
            "What is the best way to spot fake news?",
            "Check the source, look for the same story in other reliable outlets, and be wary of emotional "
            "headlines without evidence.",
        ),
    ],
    "search_books": [
        ("Who wrote Pride and Prejudice?", "Jane Austen wrote Pride and Prejudice."),
        ("Summarize the plot of a novel set in {city}.", None),
        ("Renew my library loan.", None),
        ("Reserve the book The Winter Garden for me at the library.", None),
        ("Find books about storms published after 2015.", None),
        (
            "Who wrote One Hundred Years of Solitude?",
            "Gabriel Garcia Marquez wrote it; it was published in 1967.",
        ),
        (
            "What is an ISBN?",
            "An International Standard Book Number: a unique code, usually 13 digits, for one edition of a "
            "book.",
        ),
        (
            "What is the best way to remember what I read?",
            "Take short notes or write a summary as you go, and review the main ideas a few days later.",
        ),
    ],
    "estimate_calories": [
        ("How much protein should an adult eat per day?", None),
        ("Create a workout plan for me for next month.", None),
        ("How many bones are in the adult human body?", "An adult has 206 bones."),
        ("How many calories does an hour of yoga burn?", None),
        ("What will my average heart rate be during a 30 minute run?", None),
        (
            "What is the best way to warm up before running?",
            "Walk or jog gently for five to ten minutes, then do dynamic stretches such as leg swings and "
            "lunges.",
        ),
        (
            "What does a calorie measure?",
            "Energy: a food calorie (kilocalorie) is the energy needed to heat 1 kg of water by 1 degree "
            "Celsius.",
        ),
        ("About how many steps are in a kilometre of walking?", "About 1,300 steps for an average adult."),
    ],
    "monthly_loan_payment": [
        ("What is my credit score?", None),
        ("Should I refinance my mortgage?", None),
        ("What does APR stand for?", "APR stands for annual percentage rate."),
        ("How much can I borrow if I can pay {n}0 dollars a month?", None),
        ("What is the monthly payment on an interest-only loan of {n}000 at 4 percent?", None),
        ("Show me the full amortization schedule of my loan, month by month.", None),
        (
            "What is the difference between a fixed and a variable rate loan?",
            "A fixed rate stays the same for the agreed term; a variable rate follows a market reference "
            "rate, so the payments can change.",
        ),
        (
            "What is the best way to pay off a loan faster?",
            "Make extra payments toward the principal where the loan allows it, for example by rounding up "
            "each monthly payment.",
        ),
    ],
    "apply_discount": [
        ("Which shop in {city} has the best prices?", None),
        ("Calculate the sales tax on a {n} dollar purchase in {city}.", None),
        ("Return the shoes I bought last week.", None),
        ("What was the original price of a jacket that costs {n} dollars after a 25 percent discount?", None),
        ("Find me a coupon code for my next online order.", None),
        ("What is the price of a {n} euro item after a 10 euro coupon?", None),
        (
            "Is buy one, get one free better than 40 percent off?",
            "If you want two items of the same price, buy one, get one free is like 50 percent off each, "
            "so it is better; if you need only one, 40 percent off is better.",
        ),
        (
            "What does markup mean in retail?",
            "Markup is the amount added to the cost price to set the selling price, often given as a "
            "percentage of the cost.",
        ),
    ],
    "kinetic_energy": [
        ("What is the unit of force?", "The newton is the unit of force."),
        ("Calculate the potential energy of a {n} kg object 10 m above the ground.", None),
        ("What is the speed of light?", "About 299,792 km per second in a vacuum."),
        ("What is the momentum of a {n} kg object moving at 3 m/s?", None),
        ("What is the rotational kinetic energy of a wheel spinning at {n} revolutions per minute?", None),
        (
            "What happens to kinetic energy when the speed doubles?",
            "It becomes four times as large, because kinetic energy grows with the square of the speed.",
        ),
        (
            "What is the law of conservation of energy?",
            "Energy cannot be created or destroyed, only converted from one form to another.",
        ),
        (
            "Why does a car need a longer distance to stop at higher speed?",
            "Its kinetic energy grows with the square of the speed, so the brakes must remove much more "
            "energy.",
        ),
    ],
    "set_reminder": [
        ("Wake me up by calling my phone at 6.", None),
        ("What time is sunrise in {city}?", None),
        ("Delete all my alarms.", None),
        ("Show me all my upcoming reminders.", None),
        ("Remind me to stretch every 45 minutes.", None),
        ("Remind me to buy milk when I arrive at the supermarket.", None),
        (
            "What is the best way to build a daily habit?",
            "Tie it to something you already do every day, start very small, and track it so you see your "
            "streak.",
        ),
        (
            "What is the Pomodoro technique?",
            "A time-management method: work for 25 minutes, take a 5-minute break, and take a longer break "
            "after four rounds.",
        ),
    ],
    "get_air_quality": [
        ("What causes acid rain?", "Sulfur dioxide and nitrogen oxides that react with water in the air."),
        ("What is the pollen count in {city} next week?", None),
        ("Plant a tree in my name.", None),
        ("What was the average air quality in {city} last year?", None),
        ("What is the ozone concentration in {city} right now?", None),
        (
            "What AQI value is considered unhealthy?",
            "On the US scale, values above 100 are unhealthy for sensitive groups and above 150 for "
            "everyone.",
        ),
        (
            "What is the best way to protect myself on a high-pollution day?",
            "Limit time and exercise outdoors, keep windows closed, and wear a well-fitted N95 or FFP2 "
            "mask if you go out.",
        ),
        (
            "What is PM2.5?",
            "Fine particles 2.5 micrometres across or smaller, small enough to reach deep into the lungs.",
        ),
    ],
    "count_words": [
        ("Write a poem about {city}.", None),
        ("What is the longest word in English?", None),
        ("Correct the spelling in this sentence: teh cat slepes on the mat.", "The cat sleeps on the mat."),
        ("Count how many times the word 'the' appears in my document.", None),
        ("Count the words in the web page at example.com/article.", None),
        (
            "How many characters are in 'good morning'?",
            "'good morning' has 12 characters including the space, 11 without it.",
        ),
        ("How many syllables are in the word 'banana'?", "'Banana' has three syllables: ba-na-na."),
        (
            "What is the best way to cut a 300-word text down to 200 words?",
            "Remove repetition and filler words, merge related sentences, and keep only the points that "
            "support the main idea.",
        ),
    ],
    "get_basketball_game_score": [
        ("Who is the all-time leading scorer of the Bayview Tide?", None),
        ("How many points did LeBron James score in his career?", None),
        ("How long is an NBA game?", "Four quarters of 12 minutes each, 48 minutes plus any overtime."),
        ("Buy me a courtside seat for the next Harbor City Comets home game.", None),
        ("What was the Mesa Ridge Suns' average score per game over the whole season?", None),
        ("How many points is a shot from behind the arc worth?", "Three points; a free throw is worth one."),
        ("Stream the Cedar Falls Owls game live for me.", None),
        (
            "What is a double-double in basketball?",
            "Ten or more in two statistical categories in one game, such as points and rebounds.",
        ),
    ],
    "team_upcoming_fixtures": [
        ("Which channel shows the next Lakeside United game?", None),
        ("Book two tickets for the next Granite City home game.", None),
        (
            "How many games are in a regular football league season of 20 teams?",
            "380: each team plays the 19 others twice, home and away.",
        ),
        ("What will the weather be at the next Riverton Hawks home game?", None),
        ("Record the next Bayview Tide game on my TV.", None),
        (
            "What is a fixture list?",
            "The schedule of a team's or a league's upcoming matches, with dates and opponents.",
        ),
        ("Who is the referee for the next Port Ellis FC match?", None),
        (
            "Why do teams play better at home?",
            "Familiar surroundings, no travel fatigue and the support of the home crowd all help.",
        ),
    ],
    "team_league_position": [
        ("Who is the top scorer in the league this season?", None),
        ("Which team has won the most league titles in history?", None),
        (
            "How many points is a win worth in football?",
            "Three points for a win, one for a draw, none for a loss.",
        ),
        ("Predict where Northvale Rovers will finish this season.", None),
        (
            "How is a tie on points usually broken in a league table?",
            "Most leagues use goal difference first, then goals scored or head-to-head results.",
        ),
        ("What is the stadium capacity of Granite City?", None),
        ("Who manages Lakeside United?", None),
        (
            "What does relegation mean?",
            "The lowest-placed teams at the end of a season drop down to the league below.",
        ),
    ],
    "element_atomic_mass": [
        ("What is the boiling point of iron?", None),
        ("What is the electron configuration of sodium?", "1s2 2s2 2p6 3s1, or [Ne] 3s1."),
        (
            "What is the chemical formula of glucose?",
            "C6H12O6: six carbon, twelve hydrogen and six oxygen atoms.",
        ),
        ("Who created the first periodic table?", "Dmitri Mendeleev published it in 1869."),
        ("How many isotopes of tin are stable?", None),
        ("What is the price of a kilogram of copper today?", None),
        (
            "What is the difference between atomic number and atomic mass?",
            "The atomic number counts the protons; the atomic mass is the average mass of the atoms, protons and "
            "neutrons together.",
        ),
        ("What is the density of lead?", None),
    ],
    "element_melting_point": [
        ("What is the melting point of table salt?", None),
        ("What is the boiling point of gold?", None),
        (
            "Why does ice melt at 0 degrees Celsius?",
            "At normal pressure 0 degrees Celsius is where solid and "
            "liquid water are in balance; above it the molecules have enough energy to leave the crystal.",
        ),
        ("What is the melting point of the alloy bronze?", None),
        (
            "Which metal is liquid at room temperature?",
            "Mercury is the metal that is liquid at room temperature.",
        ),
        ("What is the thermal conductivity of copper?", None),
        ("How much energy does it take to melt {n} grams of ice?", None),
        (
            "What is the difference between melting and dissolving?",
            "Melting turns a solid into a liquid by heat; "
            "dissolving spreads a substance through a solvent, such as sugar in water.",
        ),
    ],
    "particle_rest_mass": [
        ("What is the rest mass of the Higgs boson?", None),
        ("What is the mass of a helium nucleus?", None),
        ("Who discovered the electron?", "J. J. Thomson discovered it in 1897."),
        ("What is the half-life of a free neutron?", None),
        ("How many quarks are in a proton?", "Three valence quarks: two up quarks and one down quark."),
        ("What is the radius of a proton?", None),
        (
            "What does E = mc^2 mean?",
            "Mass and energy are equivalent: the energy is the mass times the speed of light squared.",
        ),
        ("What is the wavelength of an electron moving at {n} percent of the speed of light?", None),
    ],
    "particle_electric_charge": [
        ("What is the charge of a quark?", None),
        ("What is the charge of a chloride ion?", None),
        ("What is the magnetic moment of a proton?", None),
        ("What is the SI unit of electric charge?", "The coulomb."),
        ("Who measured the charge of the electron with oil drops?", "Robert Millikan, in 1909."),
        ("What is the force between two charges {n} cm apart?", None),
        (
            "What is the charge of a positron?",
            "A positron has a charge of +1 elementary charge, the opposite of the electron.",
        ),
        (
            "Why do like charges repel?",
            "The electric field between two charges of the same sign pushes them "
            "apart, as described by Coulomb's law.",
        ),
    ],
    "get_city_area": [
        ("What is the area of Brazil?", None),
        ("What is the size of the biggest park in {city}?", None),
        ("Which city has the largest area in the world?", None),
        ("How many districts does {city} have?", None),
        ("What is the area of Lake Victoria?", None),
        ("What is a square kilometre in square miles?", "One square kilometre is about 0.386 square miles."),
        (
            "Why do cities sprawl?",
            "Cheaper land and housing at the edges, car travel and growing populations push cities outward.",
        ),
        (
            "What is the difference between a city and its metropolitan area?",
            "The city is the area inside its legal limits; the metropolitan area adds the surrounding towns and "
            "suburbs that are tied to it.",
        ),
    ],
    "country_gdp_by_year": [
        ("What is the inflation rate in Kenya this year?", None),
        ("What is the minimum wage in Poland?", None),
        ("What was the GDP of {city} in 2019?", None),
        ("What are the main exports of Chile?", None),
        ("How much public debt does Portugal have?", None),
        (
            "What does GDP measure?",
            "The market value of all final goods and services a country produces in a "
            "period, usually a year.",
        ),
        (
            "What is the difference between GDP and GNP?",
            "GDP counts output produced inside a country; GNP counts "
            "the output of its residents, wherever it is produced.",
        ),
        (
            "What is a recession?",
            "A significant fall in economic activity, often defined as two quarters in a row of falling GDP.",
        ),
    ],
    "country_life_expectancy": [
        ("What is the infant mortality rate in Ghana?", None),
        ("How long will I live?", None),
        ("What is the life expectancy in {city}?", None),
        ("What was the birth rate in Poland in 2010?", None),
        ("How many doctors per person does Norway have?", None),
        (
            "Why do women usually live longer than men?",
            "Biological differences together with lower rates of smoking, drinking and risky behaviour.",
        ),
        (
            "What does life expectancy at birth mean?",
            "The average number of years a newborn would live if the "
            "death rates of that year stayed the same through its life.",
        ),
        (
            "What is the best way to live a longer, healthier life?",
            "Don't smoke, stay active, eat plenty of vegetables, sleep well and keep in touch with people.",
        ),
    ],
    "standard_deviation": [
        ("What is the median of 3, 9, {n} and 14?", None),
        ("What is the correlation between 1, 2, 3 and 2, 4, {n}?", None),
        ("What is the interquartile range of 5, 7, 12, 20 and {n}?", None),
        ("Draw a histogram of my exam scores.", None),
        ("What is the standard deviation of the heights of all adults in {city}?", None),
        (
            "What does a small standard deviation mean?",
            "The values lie close to their mean; a large one means they are spread out.",
        ),
        (
            "What is the difference between variance and standard deviation?",
            "The standard deviation is the "
            "square root of the variance, so it is in the same units as the data.",
        ),
        (
            "About what share of normally distributed values lie within one standard deviation of the mean?",
            "About 68 percent.",
        ),
    ],
    "two_sample_t_test": [
        ("Run a chi-square test on this 2 by 2 table: 12, 30, 25, {n}.", None),
        ("Run a paired t-test on the before and after weights of my patients.", None),
        (
            "What is a p-value?",
            "The probability of seeing a result at least as extreme as the one observed if "
            "the null hypothesis were true.",
        ),
        ("How many participants do I need to detect a medium effect with 80 percent power?", None),
        ("Run a one-way ANOVA on three groups of test scores.", None),
        (
            "What is the difference between Student's and Welch's t-test?",
            "Student's test assumes both groups "
            "have the same variance; Welch's test does not, and adjusts the degrees of freedom.",
        ),
        (
            "When should I use a non-parametric test instead of a t-test?",
            "When the data are far from normal, "
            "especially with small samples, or are ranks: the Mann-Whitney U test is a common choice.",
        ),
        ("Fit a linear regression of sales on advertising spend.", None),
    ],
    "box_volume": [
        ("What is the volume of a cylinder with radius 3 and height {n}?", None),
        ("What is the weight of a box of books?", None),
        ("How many litres is a cubic metre?", "A cubic metre is 1,000 litres."),
        ("What is the volume of a pyramid with a square base of side {n} and height 9?", None),
        ("How many boxes of 30 by 20 by 10 cm fit on a pallet?", None),
        ("Pack my moving boxes for me.", None),
        (
            "How do I find the volume of an irregular object?",
            "Submerge it in water and measure the volume of water it displaces.",
        ),
        ("What is the formula for the volume of a cube?", "The side length cubed: s times s times s."),
    ],
    "box_surface_area": [
        ("What is the surface area of a sphere with radius {n}?", None),
        ("How much paint do I need for a room of 4 by 5 metres?", None),
        ("What is the surface area of a cylinder with radius 2 and height {n}?", None),
        ("How much does cardboard cost per square metre?", None),
        ("Order a box of 40 by 30 by 20 centimetres for me.", None),
        ("How many faces does a cube have?", "A cube has six faces."),
        (
            "What is the net of a box?",
            "The flat shape you get by unfolding the box: its six rectangular faces joined at the edges.",
        ),
        (
            "Why do small animals lose heat faster than large ones?",
            "They have more surface area for their volume, "
            "so heat escapes faster relative to the heat they hold.",
        ),
    ],
    "reserve_rental_car": [
        ("Cancel my rental car booking in {city}.", None),
        ("What is the cheapest car rental company in {city}?", None),
        (
            "Do I need an international driving permit to rent a car in Japan?",
            "Yes: most visitors need an "
            "international driving permit along with their own licence to drive in Japan.",
        ),
        ("Book a taxi from the airport in {city}.", None),
        ("Rent a bicycle for me in {city} tomorrow.", None),
        ("Extend my current car rental by two days.", None),
        (
            "What does a collision damage waiver cover?",
            "It limits what you pay if the rental car is damaged, "
            "usually above an excess, but not injuries or your own belongings.",
        ),
        (
            "Should I fill up the tank before returning a rental car?",
            "Usually yes: with a full-to-full policy, the company charges a high price to refill it.",
        ),
    ],
    "court_case_status": [
        ("File a lawsuit against my landlord.", None),
        (
            "What is the difference between civil and criminal cases?",
            "Civil cases settle disputes between parties, "
            "such as contracts; criminal cases are brought by the state for crimes.",
        ),
        ("Find a good divorce lawyer in {city}.", None),
        (
            "What was the final verdict in the case of Brown v. Board of Education?",
            "In 1954 the US Supreme Court ruled that racial segregation in public schools is unconstitutional.",
        ),
        ("How many cases did the district court hear last year?", None),
        ("Is it legal to record a phone call without telling the other person?", None),
        ("What does 'adjourned' mean in court?", "The hearing is put off to a later date or time."),
        ("Pay the court fee for case 2024-CV-00{n}.", None),
    ],
    "court_case_parties": [
        ("Who was the judge in case 2021-CV-{n}12?", None),
        ("What was the sentence in case 2019-CR-{n}07?", None),
        (
            "What is a plaintiff?",
            "The person or organisation who brings a lawsuit; the other side is the defendant.",
        ),
        ("Find every case {name} has been involved in.", None),
        ("Serve the defendant in my case with papers.", None),
        (
            "What is an amicus curiae?",
            "A 'friend of the court': someone not a party to a case who offers "
            "information or arguments to help the court.",
        ),
        ("How much did the defendant pay in the settlement of case 2020-CV-{n}31?", None),
        ("What does 'pro se' mean?", "Representing yourself in court without a lawyer."),
    ],
    "chord_notes": [
        ("Play a C major chord for me.", None),
        ("What are the chords of the song Let It Be?", None),
        (
            "How do I finger an F major barre chord on guitar?",
            "Barre all six strings at the first fret with your "
            "index finger, then put the ring and little fingers on the third fret of the A and D strings and the "
            "middle finger on the second fret of the G string.",
        ),
        ("What are the notes of a C major seventh chord with a ninth and an eleventh?", None),
        ("What key is this song in?", None),
        (
            "What is a power chord?",
            "A root and its fifth (often with the octave), without a third, so it is "
            "neither major nor minor.",
        ),
        ("What is a chord progression?", "A series of chords played in order, such as I-IV-V-I."),
        ("Tune my guitar.", None),
    ],
    "scale_notes": [
        ("What are the notes of the C blues scale?", None),
        ("What are the notes of the D Dorian mode?", None),
        ("Play the A minor scale on the piano for me.", None),
        (
            "What is the circle of fifths?",
            "The 12 keys arranged in a circle, each a fifth above the one before; "
            "neighbouring keys differ by one sharp or flat.",
        ),
        ("What are the notes of the G pentatonic scale?", None),
        (
            "What is the difference between a major and a minor scale?",
            "The minor scale has a lowered third (and "
            "usually lowered sixth and seventh), which gives it a darker sound.",
        ),
        ("What is the relative minor of C major?", "A minor: it has the same notes and no sharps or flats."),
        ("Transpose this melody up a fifth.", None),
    ],
    "suggest_recipe_for_diet": [
        ("How many calories should I eat a day to lose weight?", None),
        ("Is honey vegan?", "No: honey is made by bees, so most vegans avoid it."),
        ("Order a vegan pizza to my home.", None),
        (
            "What can I use instead of butter in vegan baking?",
            "Plant oils, vegan margarine, coconut oil or apple sauce work in most recipes.",
        ),
        ("What is the nutritional value of a cup of cooked quinoa?", None),
        ("Plan my meals for the next month.", None),
        (
            "Which foods contain gluten?",
            "Wheat, barley and rye, and foods made from them such as bread, pasta and most beers.",
        ),
        ("How much protein is in 100 grams of tofu?", None),
    ],
    "convert_cooking_volume": [
        ("How many grams is a cup of flour?", None),
        ("Convert 180 degrees Celsius to Fahrenheit for my oven.", None),
        ("How many tablespoons of butter are in a stick?", "Eight tablespoons, about 113 grams."),
        ("How many ounces does a cup of sugar weigh?", None),
        ("How many teaspoons are in a tablespoon?", "Three teaspoons make one tablespoon."),
        ("Convert {n} litres to gallons.", None),
        (
            "How long does bread dough need to rise?",
            "Usually one to two hours at room temperature, until it has roughly doubled in size.",
        ),
        (
            "Why do American recipes use cups instead of grams?",
            "Measuring by volume is a long-standing US custom; most other countries weigh ingredients.",
        ),
    ],
    "estimate_home_value": [
        ("Is now a good time to sell my house in {city}?", None),
        ("Find houses for sale in {city} under {n}0000 dollars.", None),
        ("What is the property tax on a house in {city}?", None),
        ("How much would it cost to build a 3-bedroom house?", None),
        (
            "What does an appraiser look at when valuing a home?",
            "Location, size, condition, age, features and the recent sale prices of similar homes nearby.",
        ),
        ("Who owns the house at 12 Elm Street?", None),
        (
            "What is a home equity loan?",
            "A loan secured by your home, for up to the value of the home minus what "
            "you still owe on the mortgage.",
        ),
        (
            "Does a new kitchen add value to a house?",
            "Often, but it rarely returns its full cost; a modest update "
            "usually pays back better than a luxury one.",
        ),
    ],
    "estimate_monthly_rent": [
        ("Find flats to rent in {city} with two bedrooms.", None),
        ("Write a rental agreement for my flat.", None),
        ("Can my landlord raise the rent in the middle of the lease?", None),
        (
            "What share of my income should go to rent?",
            "A common guideline is to keep rent under about 30 percent of gross income.",
        ),
        (
            "What is a security deposit?",
            "Money paid at the start of a lease that the landlord keeps against "
            "damage or unpaid rent and returns at the end.",
        ),
        ("Pay this month's rent to my landlord.", None),
        ("How much was the average rent in {city} ten years ago?", None),
        (
            "Is it better to rent or to buy a home?",
            "It depends on how long you will stay, prices and rates where "
            "you live, and your savings: buying usually pays off only over many years.",
        ),
    ],
    "planet_orbital_period": [
        ("How long is a day on Mars?", "A Martian day, or sol, is about 24 hours and 40 minutes."),
        ("How far is Jupiter from the Sun?", None),
        (
            "How long does the Moon take to orbit the Earth?",
            "About 27.3 days, and 29.5 days from one new moon to the next.",
        ),
        ("When is the next time Mars is closest to Earth?", None),
        ("How long would a spacecraft take to reach Neptune?", None),
        ("What is the orbital period of Halley's Comet?", None),
        (
            "Why do planets farther from the Sun take longer to orbit it?",
            "Their orbits are longer and they move more slowly, as Kepler's third law describes.",
        ),
        ("Which planet has the most moons?", None),
    ],
    "planet_surface_gravity": [
        ("What is the gravity on the Moon?", None),
        ("What is the escape velocity of Mars?", None),
        ("What is the atmospheric pressure on Mars?", None),
        ("What is the surface temperature of Venus?", None),
        (
            "What is the gravitational constant?",
            "G is about 6.674 times 10 to the minus 11 cubic metres per kilogram per second squared.",
        ),
        ("Why is there no air on the Moon?", "Its gravity is too weak to hold on to a thick atmosphere."),
        ("What is the mass of Saturn?", None),
        ("Who described the law of universal gravitation?", "Isaac Newton, in 1687."),
    ],
    "count_table_rows": [
        ("Delete all rows in the orders table where status is closed.", None),
        ("Show me the first ten rows of the customers table.", None),
        ("What columns does the tickets table have?", None),
        ("Back up the sales database.", None),
        (
            "What is the difference between COUNT(*) and COUNT(column) in SQL?",
            "COUNT(*) counts every row; COUNT(column) counts only the rows where that column is not NULL.",
        ),
        ("Create a new table called archive.", None),
        (
            "What is a primary key?",
            "A column or set of columns whose value identifies each row of a table uniquely.",
        ),
        ("What does the WHERE clause do in SQL?", "It keeps only the rows that meet its condition."),
    ],
    "sum_table_column": [
        ("What is the average amount in the payments table?", None),
        ("Update the tax column of the invoices table to 0 for refunds.", None),
        ("What is the largest amount in the orders table?", None),
        ("Export the invoices table to a spreadsheet.", None),
        (
            "What does GROUP BY do in SQL?",
            "It collects rows with the same values in the given columns into "
            "groups, so aggregates like SUM are computed per group.",
        ),
        ("Which customer has spent the most money?", None),
        (
            "What is the difference between SUM and COUNT in SQL?",
            "SUM adds up the values of a column; COUNT counts the rows.",
        ),
        (
            "Why does SUM return NULL on an empty table?",
            "With no rows there is nothing to add, and SQL returns "
            "NULL rather than 0; wrap it in COALESCE to get 0.",
        ),
    ],
    "historical_event_date": [
        ("Who was the first person to walk on the Moon?", "Neil Armstrong, on 20 July 1969."),
        ("How many people died in the Battle of Hastings?", None),
        ("What caused the French Revolution?", None),
        ("What happened on this day in history?", None),
        ("Who built the Suez Canal?", None),
        ("How long did the Second World War last?", "From 1939 to 1945, about six years."),
        (
            "Who won the Battle of Waterloo?",
            "The Duke of Wellington and Blucher's Prussian army defeated Napoleon there in 1815.",
        ),
        ("Who was king of England when the Magna Carta was sealed?", "King John."),
    ],
    "historical_event_place": [
        ("Who signed the Treaty of Versailles?", None),
        ("Why was the Berlin Wall built?", None),
        ("What language did the Normans speak in 1066?", "Old Norman, a northern dialect of Old French."),
        ("What is the capital of Egypt?", "Cairo is the capital of Egypt."),
        (
            "Who led the Norman army at the Battle of Hastings?",
            "William, Duke of Normandy, later William the Conqueror.",
        ),
        ("Plan a trip to the historic sites of Paris for me.", None),
        ("Which museums in {city} have the best history collections?", None),
        (
            "What was the Cold War?",
            "The rivalry from about 1947 to 1991 between the United States and the Soviet "
            "Union and their allies, fought without direct war between them.",
        ),
    ],
    "find_used_cars": [
        ("Sell my old hatchback for me.", None),
        ("Book a test drive for a used SUV tomorrow in {city}.", None),
        ("What is my {n}-month-old sedan worth now?", None),
        ("Rent me a minivan for the weekend in {city}.", None),
        ("Find a mechanic near me who can fix a pickup truck.", None),
        (
            "Is it better to buy a new or a used car?",
            "A used car costs less and loses value more slowly; a new one comes with a warranty and no "
            "hidden history. If you buy used, ask for the service record and an independent inspection.",
        ),
        (
            "What is a hatchback?",
            "A car whose rear door opens upward, hinged at the roof, giving access to a cargo area "
            "shared with the cabin.",
        ),
        ("Which used car brands are the most reliable?", None),
    ],
    "quote_car_insurance": [
        ("File a claim for the dent in my sedan.", None),
        ("Cancel my car insurance policy.", None),
        ("How much does an SUV cost to fuel for {n} miles?", None),
        ("Compare home insurance quotes in {city}.", None),
        ("What does my current policy cover?", None),
        (
            "What is the difference between liability and comprehensive cover?",
            "Liability pays for damage you cause to others; comprehensive also pays for damage to your own "
            "car from theft, fire, weather or vandalism.",
        ),
        (
            "Why is insurance more expensive for young drivers?",
            "Drivers under 25 have more accidents per mile driven, so insurers charge them more.",
        ),
        ("Renew my insurance with the same company.", None),
    ],
}


def near_miss_request(rng: random.Random, template: str) -> tuple[str, str]:
    """(request, reply) in `template`'s domain that its tool does not serve; KeyError for an unknown one."""
    question, answer = rng.choice(NEAR_MISSES[template])
    question = question.format(city=rng.choice(_CITIES), n=rng.randint(12, 99), name=rng.choice(_NAMES))
    return question, answer or rng.choice(NO_TOOL_FITS)
