"""A small corpus written for these tests: short documents on distinct topics, in several formats, and
questions with the passage (a phrase of the document) that answers each.

Questions are phrased the way a user would ask, mostly not with the document's own words, so that the
vector search has work to do; a few ask for identifiers (error codes, form numbers) where keyword search
is what finds them. `write_corpus(folder)` writes every document in its format (the PDFs through the
hand-written writer in `pdf_writer.py`), with HTML pages carrying scripts and styles that must not be
indexed.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from memory.pdf_writer import write_pdf

HTML_DECOY = "zqxdecoytrackingpixel"  # only inside <script>/<style>: must never be indexed


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    format: str  # md | txt | html | pdf
    text: str  # paragraphs separated by blank lines


@dataclass(frozen=True)
class Question:
    question: str
    doc: str
    answer: str  # a phrase of the document that answers the question


def _d(id: str, title: str, format: str, text: str) -> Doc:
    return Doc(id, title, format, textwrap.dedent(text).strip())


DOCS: list[Doc] = [
    _d(
        "sourdough",
        "Keeping a sourdough starter",
        "md",
        """
        A sourdough starter is a culture of wild yeast and lactic acid bacteria living in a paste of flour and
        water. To keep it active, discard half of it and feed the rest with equal weights of flour and water
        every day when it lives on the counter.

        A starter kept in the refrigerator only needs feeding once a week. Before baking, take it out and give
        it two feedings at room temperature so it doubles in size within six hours. A layer of grey liquid on
        top, called hooch, is alcohol from hungry yeast: pour it off and feed the starter.
    """,
    ),
    _d(
        "honeybees",
        "How honeybees share directions",
        "txt",
        """
        Forager honeybees tell their sisters where food is with the waggle dance. On the vertical comb, the
        angle of the waggle run relative to straight up equals the angle between the food source and the sun.

        The duration of the waggle run encodes distance: roughly one second of waggling means about a kilometre
        of flight. For flowers closer than about fifty metres, bees perform a round dance instead, which says
        only that food is nearby.
    """,
    ),
    _d(
        "lighthouse",
        "The Fresnel lens in lighthouses",
        "html",
        """
        Before 1822 lighthouses used mirrors and lamps that wasted most of their light. Augustin Fresnel
        designed a lens made of concentric rings of glass prisms that bends the light into a horizontal beam.

        A first-order Fresnel lens stands taller than a person and could be seen more than twenty nautical
        miles out at sea. Because the lens is split into thin sections, it weighs far less than a solid lens of
        the same focal length would.
    """,
    ),
    _d(
        "vacation",
        "Employee handbook: vacation policy",
        "pdf",
        """
        Paid time off at Northwind Logistics accrues monthly. New employees receive 18 days of paid vacation in
        their first year, rising to 23 days after three years of service.

        Up to five unused vacation days may be carried over into the next calendar year; any remaining days
        expire on 31 March. Vacation requests longer than ten working days must be approved by a department head
        at least four weeks in advance.

        Public holidays are not deducted from the vacation balance. Employees who fall ill during their vacation
        can convert those days to sick leave by sending a doctor's note within seven days of returning.
    """,
    ),
    _d(
        "volcanoes",
        "Shield volcanoes and stratovolcanoes",
        "md",
        """
        # Shield volcanoes and stratovolcanoes

        Shield volcanoes such as Mauna Loa are built almost entirely of fluid basaltic lava flows, which spread
        far before cooling and give them broad, gently sloping profiles.

        Stratovolcanoes such as Mount Fuji are steep cones made of alternating layers of lava, ash and pumice.
        Their viscous, gas-rich andesitic magma tends to erupt explosively.
    """,
    ),
    _d(
        "castling",
        "Chess: the castling move",
        "txt",
        """
        Castling is the only move in chess in which two pieces move at once. The king moves two squares towards
        a rook, and that rook jumps to the square the king crossed.

        Castling is illegal if the king or that rook has already moved, if any square between them is occupied,
        or if the king is in check, would pass through a square attacked by an enemy piece, or would land in
        check.
    """,
    ),
    _d(
        "octopus",
        "Octopus anatomy",
        "html",
        """
        An octopus has three hearts. Two branchial hearts pump blood through the gills, and a systemic heart
        pumps it through the rest of the body; the systemic heart stops beating while the animal swims.

        Octopus blood is blue because it carries oxygen with hemocyanin, a copper-based protein, rather than the
        iron-based hemoglobin of vertebrates. About two thirds of an octopus's neurons are in its arms.
    """,
    ),
    _d(
        "rust",
        "Ownership and borrowing in Rust",
        "md",
        """
        # Ownership in Rust

        Every value in Rust has a single owner, and the value is dropped when its owner goes out of scope.
        Assigning a heap value to another variable moves it, and the old variable can no longer be used.

        The borrow checker enforces that at any time a value has either one mutable reference or any number of
        immutable references, never both. This rule rules out data races at compile time.
    """,
    ),
    _d(
        "espresso",
        "Dialing in espresso",
        "pdf",
        """
        A standard double espresso uses about 18 grams of finely ground coffee and yields roughly 36 grams of
        liquid in 25 to 30 seconds, a brew ratio of one to two.

        If the shot runs too fast and tastes sour, the coffee is under-extracted: grind finer. If it drips
        slowly and tastes bitter, it is over-extracted: grind coarser. Water at about 93 degrees Celsius and a
        pressure of nine bars are the usual targets.
    """,
    ),
    _d(
        "tardigrades",
        "Tardigrades and cryptobiosis",
        "txt",
        """
        Tardigrades, also called water bears, are microscopic animals about half a millimetre long. When their
        habitat dries out, they pull in their legs, lose almost all of their body water and curl into a state
        called a tun.

        In the tun state their metabolism drops to less than 0.01 percent of normal, and they can survive
        decades without water, temperatures close to absolute zero, and the vacuum of space.
    """,
    ),
    _d(
        "aqueducts",
        "Roman aqueducts",
        "md",
        """
        Roman engineers moved water to cities by gravity alone. The Pont du Gard aqueduct bridge in southern
        France descends only about 2.5 centimetres over its 456-metre length.

        Most of an aqueduct's channel ran underground; the famous arches were needed only to cross valleys. At
        the city end, water flowed into a distribution tank called a castellum divisorium, which fed fountains,
        baths and private houses.
    """,
    ),
    _d(
        "runbook",
        "Runbook: storage cluster alerts",
        "txt",
        """
        Alert E-4471 means a storage node has lost its heartbeat for more than 90 seconds. First check the node's
        power and network link in the rack console, then restart the storaged service with
        systemctl restart storaged.

        Alert E-5102 means a disk reports reallocated sectors. Do not restart anything: mark the disk for
        replacement in the inventory and open a ticket with the hardware team. Rebalancing starts automatically.
    """,
    ),
    _d(
        "photosynthesis",
        "The Calvin cycle",
        "html",
        """
        The Calvin cycle is the set of light-independent reactions of photosynthesis that take place in the
        stroma of the chloroplast. The enzyme RuBisCO fixes carbon dioxide onto ribulose bisphosphate.

        Using ATP and NADPH made by the light reactions, the cycle turns the fixed carbon into
        glyceraldehyde-3-phosphate, a three-carbon sugar from which the plant builds glucose and starch.
    """,
    ),
    _d(
        "marathon",
        "Tapering before a marathon",
        "md",
        """
        Most marathon plans reduce training volume during the last two to three weeks before race day, a period
        called the taper. Weekly mileage typically falls by 20 to 30 percent each week.

        Intensity should stay: keep a few short runs at goal pace so the legs remember the rhythm. Runners often
        feel sluggish during the taper; that is normal and passes by race day.
    """,
    ),
    _d(
        "bicycle",
        "Bicycle tyre pressure",
        "txt",
        """
        Road bike tyres are usually inflated to between 80 and 100 psi, while mountain bike tyres run at much
        lower pressures of 25 to 35 psi for grip on loose ground.

        Heavier riders need more pressure to avoid pinch flats, which happen when the tube is squeezed between
        the rim and an obstacle and gets two small holes that look like a snake bite.
    """,
    ),
    _d(
        "origami",
        "Folding an origami crane",
        "pdf",
        """
        The traditional origami crane starts from a square sheet folded into a square base, also called a
        preliminary base. Petal folds on both sides then turn it into a bird base.

        Narrow the lower flaps by folding their edges to the centre line, then inside-reverse-fold them upwards
        to form the neck and the tail. A final inside reverse fold at the tip of the neck makes the head.
    """,
    ),
    _d(
        "bebop",
        "Bebop",
        "md",
        """
        Bebop developed in New York in the early 1940s, in after-hours jam sessions at clubs such as Minton's
        Playhouse. Charlie Parker on alto saxophone and Dizzy Gillespie on trumpet were its leading players.

        Compared with swing dance music, bebop used fast tempos, complex chord changes and long improvised
        lines, and it was meant for listening rather than dancing.
    """,
    ),
    _d(
        "glaciers",
        "Glacier calving",
        "html",
        """
        Calving is the breaking off of ice chunks at the edge of a glacier that ends in water. The fallen pieces
        become icebergs.

        Tidewater glaciers can retreat very quickly once their front loses contact with a shallow underwater
        ridge, because deeper water at the front speeds up calving.
    """,
    ),
    _d(
        "taxforms",
        "Filing the QX-12 declaration",
        "txt",
        """
        Freelancers in the canton must file Form QX-12 to declare their annual self-employment income. The form
        is due on 15 May for the previous calendar year.

        Late filing costs a fixed penalty of 120 francs plus interest. Filers who expect to owe more than 3,000
        francs must also make quarterly advance payments.
    """,
    ),
    _d(
        "snakeplant",
        "Caring for a snake plant",
        "md",
        """
        Snake plants, Sansevieria, store water in their thick leaves and rot easily when overwatered. Let the
        soil dry out completely between waterings, which in winter can mean watering only once a month.

        They tolerate low light, but grow faster in bright indirect light. Repot only when the roots crack the
        pot, about every three years.
    """,
    ),
    _d(
        "gil",
        "The Python global interpreter lock",
        "txt",
        """
        CPython's global interpreter lock, the GIL, allows only one thread to execute Python bytecode at a time.
        Threads still help with I/O-bound work, because the lock is released while a thread waits for the
        network or the disk.

        For CPU-bound work, use multiple processes with the multiprocessing module or concurrent.futures, or
        move the heavy loops into C extensions such as NumPy, which release the lock while computing.
    """,
    ),
    _d(
        "moon",
        "Phases of the Moon",
        "html",
        """
        The Moon goes through its phases every 29.5 days, the synodic month. At new moon it lies between the
        Earth and the Sun and its lit side faces away from us.

        A waxing crescent grows into the first quarter, when half of the disc is lit, then a waxing gibbous and
        the full moon; the phases then shrink in reverse order through the last quarter.
    """,
    ),
    _d(
        "cheese",
        "Rennet in cheese making",
        "md",
        """
        Rennet is a set of enzymes, chiefly chymosin, traditionally taken from the stomach of young calves. Added
        to warm milk, it cuts the casein proteins so that they bind together into a firm curd.

        Vegetarian cheeses use microbial rennet made by fungi, or chymosin produced by fermentation. After the
        curd sets, it is cut, stirred and drained of whey.
    """,
    ),
    _d(
        "hurricanes",
        "The Saffir-Simpson scale",
        "pdf",
        """
        The Saffir-Simpson hurricane wind scale rates hurricanes from Category 1 to Category 5 by their sustained
        wind speed, measured as a one-minute average.

        A Category 5 hurricane has sustained winds of at least 157 miles per hour, which cause catastrophic
        damage. The scale does not account for storm surge or rainfall, which often cause most of the deaths.
    """,
    ),
    _d(
        "gutenberg",
        "The Gutenberg press",
        "txt",
        """
        Johannes Gutenberg introduced printing with movable metal type in Mainz around 1450. His hand mould let
        printers cast large numbers of identical letters from an alloy of lead, tin and antimony.

        The Gutenberg Bible, finished around 1455, was printed in about 180 copies. An oil-based ink, unlike the
        water-based inks of scribes, stuck well to the metal type.
    """,
    ),
    _d(
        "passwords",
        "Security standard: passwords",
        "md",
        """
        # Passwords

        Passwords for staff accounts must be at least 14 characters long. Passphrases made of several unrelated
        words are encouraged. Passwords are not rotated on a schedule; they are changed only when there is
        evidence of compromise.

        Every administrator account must use a hardware security key as its second factor. Shared accounts are
        not allowed; service accounts use keys stored in the secrets vault.
    """,
    ),
    _d(
        "coral",
        "Coral bleaching",
        "html",
        """
        Reef-building corals live in symbiosis with microscopic algae called zooxanthellae, which give them most
        of their food and their colour.

        When the water stays about one degree Celsius above the usual summer maximum for several weeks, corals
        expel the algae and turn white. Bleached corals are not dead, but they starve if the heat lasts.
    """,
    ),
    _d(
        "vinyl",
        "Vinyl record speeds",
        "txt",
        """
        Long-playing vinyl records spin at 33 and a third revolutions per minute, while seven-inch singles
        usually play at 45 rpm. Old shellac discs were made for 78 rpm.

        The stylus reads a single spiral groove whose side walls carry the left and right stereo channels at
        angles of 45 degrees.
    """,
    ),
    _d(
        "knitting",
        "Knitting a gauge swatch",
        "md",
        """
        Before starting a sweater, knit a gauge swatch of at least 15 by 15 centimetres in the pattern stitch,
        using the yarn and needles you plan to use.

        Wash and dry the swatch the way you will treat the finished garment, then count the stitches over 10
        centimetres. If you have more stitches than the pattern asks for, switch to larger needles.
    """,
    ),
    _d(
        "router",
        "Wi-Fi router troubleshooting",
        "pdf",
        """
        A blinking amber light on the HX-200 router means it has no connection to the internet provider. Check
        that the cable in the WAN port is seated, then power-cycle the modem first and the router second.

        A solid red light means the firmware update failed. Hold the reset button for 30 seconds to restore the
        factory firmware, then set up the network again from the mobile app.
    """,
    ),
    _d(
        "aurora",
        "Project Aurora onboarding guide",
        "md",
        """
        # Project Aurora onboarding guide

        Welcome to Project Aurora, the team that builds the route planning service for our delivery fleet. This
        guide covers your first two weeks: accounts, the code base, how we review changes and how we release.

        ## Accounts

        On your first day the IT desk gives you a laptop with the development image installed. Ask your buddy
        to add you to the aurora-dev group in the directory; without it the package mirror and the staging
        cluster reject your credentials. Access to production logs needs a separate request that your manager
        approves, and it usually takes two working days.

        ## The code base

        The planner is a Kotlin service; the map matching library is written in C++ and called through JNI. The
        monorepo builds with Gradle, and a full build with tests takes about twelve minutes on the development
        image. Run the fast unit tests with the check task before pushing. Integration tests run only in CI
        because they need the staging database.

        ## Reviews

        Every change needs approval from one reviewer who owns the touched module, listed in the CODEOWNERS
        file. Keep changes under four hundred lines where you can; larger ones are split before review. We
        answer review requests within one working day.

        ## Releases

        The planner is released every Tuesday at 10:00 by the on-call engineer. A release is canary-deployed to
        five percent of the vehicles for two hours, and it is rolled back automatically if the rate of failed
        route requests rises above half a percent. Hotfixes outside the Tuesday train need approval from the
        team lead.

        ## On call

        New team members join the on-call rotation after their sixth week, first as a shadow. The rotation is
        one week long and hands over on Monday mornings at the team stand-up.
    """,
    ),
    _d(
        "millbrook",
        "A short history of Millbrook",
        "txt",
        """
        Millbrook began as a mill village on the Wren River. In 1783 the brothers Thomas and Samuel Hale built a
        water-powered grist mill at the falls, and farmers from the surrounding hills brought their grain there
        to be ground.

        The village grew slowly until the canal reached it in 1834. The canal connected Millbrook to the coast,
        and within twenty years the town had three textile mills, a tannery and a population of nearly four
        thousand people. Many of the mill workers were young women from farms in the region, who lived in
        company boarding houses on Canal Street.

        The great flood of 1869 destroyed the lower dam and two of the textile mills. The town rebuilt the dam in
        stone, and the Hale Mill, the only one to survive, ran until 1951. After the railway arrived in 1872 the
        canal lost its traffic, and it was filled in during the 1920s to make room for the high street.

        Today the Hale Mill houses the town library and a small museum of the textile industry. Every September
        the town holds Mill Days, a festival with a parade, a craft market and a re-enactment of the 1834 opening
        of the canal.
    """,
    ),
    # Near neighbours of the documents above: same vocabulary, other answers. They make ranking matter.
    _d(
        "sickleave",
        "Employee handbook: sick leave",
        "md",
        """
        # Sick leave

        Northwind Logistics employees who are ill must tell their manager before 9:00 on the first day of
        absence. For absences longer than three days, a doctor's note is required.

        Sick days are paid in full for up to six weeks per year and are never deducted from the vacation
        balance. Employees caring for a sick child may take up to five paid days a year.
    """,
    ),
    _d(
        "pourover",
        "Brewing pour-over coffee",
        "txt",
        """
        For a pour-over, use 15 grams of medium-fine ground coffee for 250 grams of water just off the boil.
        Pour a little water first to let the coffee bloom for 30 seconds, then pour the rest in slow circles.

        If the brew drains in under two minutes and tastes thin, grind finer; if it takes more than four
        minutes and tastes harsh, grind coarser.
    """,
    ),
    _d(
        "capacity",
        "Storage cluster capacity planning",
        "txt",
        """
        Each storage node in the cluster holds twelve disks. Plan new nodes when the cluster passes 70 percent
        of its raw capacity, because rebalancing after a node failure needs free space on the surviving nodes.

        Order replacement disks in batches of twenty; the hardware team keeps four spare disks in every rack.
    """,
    ),
    _d(
        "squid",
        "Squid anatomy",
        "html",
        """
        Like octopuses, squid have three hearts and blue, copper-based blood. Their bodies are stiffened by an
        internal shell called the gladius or pen.

        Giant squid have the largest eyes in the animal kingdom, up to 27 centimetres across, which help them
        spot sperm whales in the dark depths.
    """,
    ),
    _d(
        "cadence",
        "Cycling cadence",
        "md",
        """
        Cadence is the number of pedal revolutions per minute. Most road cyclists ride efficiently between 80 and
        100 rpm; beginners often pedal too slowly in too hard a gear, which tires the leg muscles quickly.

        Shift to an easier gear before a climb rather than on it, so the chain is not under full load while it
        moves between sprockets.
    """,
    ),
    _d(
        "yeastbread",
        "Baking bread with commercial yeast",
        "txt",
        """
        Instant yeast can be mixed straight into the flour, while active dry yeast should first be dissolved in
        warm water at about 40 degrees Celsius. Water much hotter than 50 degrees kills yeast.

        A basic loaf rises twice: a bulk rise of about an hour until the dough doubles, then a shorter proof
        after shaping. Bake until the loaf sounds hollow when tapped on the bottom.
    """,
    ),
    _d(
        "passwordmanager",
        "Using the company password manager",
        "md",
        """
        Staff store every work password in the company password manager. Its master password must never be
        reused anywhere else, and it cannot be recovered by IT if you forget it.

        Shared team credentials live in shared folders of the password manager, with access granted per team by
        the folder owner.
    """,
    ),
    _d(
        "millbrookcouncil",
        "Millbrook town council",
        "txt",
        """
        Millbrook is governed by a town council of seven members elected for four years. The council meets on
        the first Thursday of every month in the old school hall on Canal Street, and meetings are open to the
        public.

        The council's largest expense is the upkeep of the roads and the public library.
    """,
    ),
    _d(
        "lunareclipse",
        "Lunar eclipses",
        "html",
        """
        A lunar eclipse happens when the Earth passes between the Sun and a full moon, so the Earth's shadow
        falls on the Moon. During totality the Moon turns a coppery red, lit only by sunlight bent through the
        Earth's atmosphere.

        Lunar eclipses do not happen every month because the Moon's orbit is tilted by about five degrees to the
        Earth's orbit around the Sun.
    """,
    ),
    _d(
        "routerwifi",
        "Improving Wi-Fi coverage",
        "pdf",
        """
        Place the router in a central, raised spot, away from microwave ovens and thick walls. The 5 GHz band is
        faster but reaches less far than the 2.4 GHz band.

        In large houses, a mesh system with two or three satellite units gives better coverage than one
        powerful router.
    """,
    ),
    # Languages written without spaces between words: keyword search must find their words verbatim.
    _d(
        "leavecn",
        "员工休假制度",
        "md",
        """
        # 员工休假制度

        新员工每年有二十天带薪休假。休假需要提前两周通过人事系统申请，并由直属经理批准。

        未使用的带薪休假最多可以结转五天到下一年，其余的在十二月三十一日作废。病假不计入带薪休假。
    """,
    ),
    _d(
        "canteencn",
        "公司食堂",
        "txt",
        """
        公司食堂每天中午十一点半开门，下午一点半关门。每周五供应饺子。

        员工凭工牌在食堂用餐可以享受五折优惠，访客需要在前台购买餐券。
    """,
    ),
    _d(
        "shinkansen",
        "東海道新幹線",
        "txt",
        """
        東海道新幹線は東京と新大阪を結ぶ高速鉄道で、一九六四年に開業した。最高速度は時速二百八十五キロである。

        のぞみ号は東京から新大阪まで約二時間二十分で走る。自由席は一号車から三号車までである。
    """,
    ),
]


QUESTIONS: list[Question] = [
    Question(
        "How often should I feed sourdough starter stored in the fridge?",
        "sourdough",
        "only needs feeding once a week",
    ),
    Question(
        "What is the grey liquid on top of my starter?",
        "sourdough",
        "called hooch, is alcohol from hungry yeast",
    ),
    Question(
        "How do bees communicate the distance to flowers?",
        "honeybees",
        "duration of the waggle run encodes distance",
    ),
    Question(
        "What dance do bees do when food is very close to the hive?",
        "honeybees",
        "bees perform a round dance instead",
    ),
    Question("Who invented the lighthouse lens made of rings of prisms?", "lighthouse", "Augustin Fresnel"),
    Question(
        "How many days of paid holiday does a new hire get?",
        "vacation",
        "New employees receive 18 days of paid vacation",
    ),
    Question(
        "Can I carry unused vacation days into next year?",
        "vacation",
        "five unused vacation days may be carried over",
    ),
    Question("What happens if I get sick while on holiday?", "vacation", "convert those days to sick leave"),
    Question("Why are some volcanoes broad with gentle slopes?", "volcanoes", "fluid basaltic lava flows"),
    Question(
        "When am I not allowed to castle in chess?",
        "castling",
        "Castling is illegal if the king or that rook has already moved",
    ),
    Question("How many hearts does an octopus have?", "octopus", "An octopus has three hearts"),
    Question("Why is octopus blood blue?", "octopus", "hemocyanin, a copper-based protein"),
    Question(
        "What rule about references prevents data races in Rust?",
        "rust",
        "either one mutable reference or any number of",
    ),
    Question(
        "How much ground coffee goes into a double shot?",
        "espresso",
        "about 18 grams of finely ground coffee",
    ),
    Question("My espresso tastes sour, what should I change?", "espresso", "under-extracted: grind finer"),
    Question("How do water bears survive drying out?", "tardigrades", "curl into a state called a tun"),
    Question(
        "How steep was the slope of the Pont du Gard?", "aqueducts", "descends only about 2.5 centimetres"
    ),
    Question("What should I do about alert E-4471?", "runbook", "restart the storaged service"),
    Question(
        "A disk reports reallocated sectors, do I restart the node?", "runbook", "Do not restart anything"
    ),
    Question(
        "Which enzyme fixes carbon dioxide in the Calvin cycle?",
        "photosynthesis",
        "The enzyme RuBisCO fixes carbon dioxide",
    ),
    Question(
        "How much should weekly running mileage drop before a marathon?",
        "marathon",
        "falls by 20 to 30 percent each week",
    ),
    Question("What tyre pressure for a mountain bike?", "bicycle", "25 to 35 psi"),
    Question(
        "What causes a snake bite puncture in a bike tube?",
        "bicycle",
        "squeezed between the rim and an obstacle",
    ),
    Question(
        "How do I make the head of a paper crane?",
        "origami",
        "final inside reverse fold at the tip of the neck",
    ),
    Question(
        "Where did bebop start and who were its main musicians?",
        "bebop",
        "Charlie Parker on alto saxophone and Dizzy Gillespie",
    ),
    Question(
        "Why do tidewater glaciers sometimes retreat fast?",
        "glaciers",
        "deeper water at the front speeds up calving",
    ),
    Question("When is the QX-12 due?", "taxforms", "due on 15 May for the previous calendar year"),
    Question("How often should I water a Sansevieria in winter?", "snakeplant", "watering only once a month"),
    Question(
        "Do threads speed up CPU-heavy Python code?", "gil", "For CPU-bound work, use multiple processes"
    ),
    Question("How long is the lunar cycle of phases?", "moon", "every 29.5 days, the synodic month"),
    Question(
        "What makes milk curdle into cheese curd?", "cheese", "Rennet is a set of enzymes, chiefly chymosin"
    ),
    Question(
        "What wind speed makes a Category 5 hurricane?",
        "hurricanes",
        "sustained winds of at least 157 miles per hour",
    ),
    Question("What metal alloy was movable type cast from?", "gutenberg", "alloy of lead, tin and antimony"),
    Question("What is the minimum length of a staff password?", "passwords", "at least 14 characters long"),
    Question(
        "Do we have to change passwords every 90 days?",
        "passwords",
        "Passwords are not rotated on a schedule",
    ),
    Question("Why do corals turn white in hot water?", "coral", "expel the algae and turn white"),
    Question("At what speed does an LP spin?", "vinyl", "33 and a third revolutions per minute"),
    Question("My swatch has too many stitches, what do I do?", "knitting", "switch to larger needles"),
    Question(
        "The router light is blinking amber, what does it mean?",
        "router",
        "no connection to the internet provider",
    ),
    Question(
        "Which directory group do I need for the staging cluster?",
        "aurora",
        "add you to the aurora-dev group",
    ),
    Question("When and how are planner releases rolled out?", "aurora", "released every Tuesday at 10:00"),
    Question(
        "When do new team members start doing on-call?",
        "aurora",
        "join the on-call rotation after their sixth week",
    ),
    Question(
        "What happened in the flood of 1869?",
        "millbrook",
        "destroyed the lower dam and two of the textile mills",
    ),
    Question("What is the old mill used for now?", "millbrook", "houses the town library and a small museum"),
    Question(
        "Do I need a doctor's note when I'm off ill for a week?",
        "sickleave",
        "For absences longer than three days, a doctor's note is required",
    ),
    Question(
        "How long should coffee bloom in a pour-over?", "pourover", "let the coffee bloom for 30 seconds"
    ),
    Question("When should we buy more storage nodes?", "capacity", "passes 70 percent of its raw capacity"),
    Question("What supports the body of a squid?", "squid", "internal shell called the gladius or pen"),
    Question("How fast should I pedal on a road bike?", "cadence", "between 80 and 100 rpm"),
    Question(
        "What water temperature kills yeast?", "yeastbread", "Water much hotter than 50 degrees kills yeast"
    ),
    Question(
        "Can IT reset my password manager master password if I forget it?",
        "passwordmanager",
        "cannot be recovered by IT",
    ),
    Question("When does the Millbrook council meet?", "millbrookcouncil", "first Thursday of every month"),
    Question(
        "Why is the moon red during an eclipse?",
        "lunareclipse",
        "sunlight bent through the Earth's atmosphere",
    ),
    Question(
        "Which Wi-Fi band has longer range?",
        "routerwifi",
        "faster but reaches less far than the 2.4 GHz band",
    ),
    Question("带薪休假", "leavecn", "新员工每年有二十天带薪休假"),  # the reported keyword query
    Question("新员工每年有几天带薪休假？", "leavecn", "新员工每年有二十天带薪休假"),
    Question("没用完的年假可以结转吗？", "leavecn", "最多可以结转五天到下一年"),
    Question("食堂几点开门？", "canteencn", "公司食堂每天中午十一点半开门"),
    Question("東海道新幹線の最高速度は？", "shinkansen", "最高速度は時速二百八十五キロである"),
    Question("のぞみ号で東京から新大阪まで何時間かかりますか", "shinkansen", "約二時間二十分で走る"),
]


def write_corpus(folder: Path) -> dict[str, Path]:
    """Write every document into `folder` in its format; returns doc id -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for doc in DOCS:
        path = folder / f"{doc.id}.{doc.format}"
        paragraphs = [" ".join(p.split()) if not p.startswith("#") else p for p in doc.text.split("\n\n")]
        if doc.format == "md":
            path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
        elif doc.format == "txt":
            path.write_text(doc.title + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        elif doc.format == "html":
            path.write_text(_html(doc.title, paragraphs), encoding="utf-8")
        elif doc.format == "pdf":
            write_pdf(path, _pdf_pages(paragraphs), title=doc.title)
        else:  # pragma: no cover - corpus typo
            raise ValueError(doc.format)
        paths[doc.id] = path
    return paths


def _html(title: str, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title>"
        f"<style>.{HTML_DECOY} {{ color: red }}</style>"
        f"<script>var {HTML_DECOY} = 'track'; console.log({HTML_DECOY});</script>"
        "</head><body>"
        f"<nav><a href='/'>Home</a></nav><h1>{title}</h1>\n{body}\n"
        f"<script type='text/javascript'>window.{HTML_DECOY} = 1;</script>"
        "</body></html>\n"
    )


def _pdf_pages(paragraphs: list[str]) -> list[list[str]]:
    """One paragraph per page, wrapped at 80 columns: multi-page PDFs with real line breaks."""
    return [textwrap.wrap(p, 80) for p in paragraphs]
