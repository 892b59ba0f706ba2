"""Word lists the checks share: stop words, instruction verbs, task families, format and length terms.

These are general English vocabulary of instructions (what a prompt asks for and in which shape), not
phrasings of any data set. Words are compared by :func:`~.text.stem`.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


__all__ = [
    "ANSWER_TOKENS",
    "ARTIFACTS",
    "COMMON_CAPITALISED",
    "FORMAT_GROUPS",
    "FORMAT_WORDS",
    "IMPERATIVE_VERBS",
    "LENGTH_GROUPS",
    "NUMBER_WORDS",
    "OPPOSITES",
    "STOPWORDS",
    "SYNONYMS",
    "TASK_FAMILIES",
]

STOPWORDS = frozenset(
    _words(
        """a about above after again against all also am an and any are as at be because been before being below
        between both but by can could did do does doing down during each few for from further had has have
        having he her here hers him his how i if in into is it its itself just me more most my no nor not now of
        off on once only or other our ours out over own same she should so some such than that the their theirs
        them then there these they this those through to too under until up very was we were what when where
        which while who whom why will with would you your yours please following given text prompt using make
        sure below above let lets us one ones thing things way well way get got also within without like per via
        etc"""
    )
)

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 1000000, "billion": 1000000000, "dozen": 12, "single": 1, "once": 1, "twice": 2, "thrice": 3,
    "pair": 2, "couple": 2, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "half": 0.5,
}  # fmt: skip

#: Answer tokens a format instruction may quote without inventing anything.
ANSWER_TOKENS = frozenset(_words("yes no true false n x a b c d e correct incorrect valid invalid"))

#: Capitalised words that are formats or conventions, not names.
FORMAT_WORDS = frozenset(
    _words(
        """i json csv tsv yaml xml html sql markdown ascii utf url urls id ids ok n x q a b c d e f g h true false
        yes no none null api pdf latex regex english"""
    )
)

#: Words often capitalised for emphasis or as labels in prompts ("Answer ONLY with ...", "Not stated").
COMMON_CAPITALISED = frozenset(
    _words(
        """not only except least answer item name total day unknown partly none all any must never always important
        note warning tip example input output question solution step final format rules task context"""
    )
)

#: Verbs an instruction starts with (base form); a prompt without any of these, a question, or an address
#: to the assistant is not an instruction.
IMPERATIVE_VERBS = frozenset(
    _words(
        """add adapt address adjust analyse analyze annotate answer apply argue arrange ask assess assign break
        brainstorm build calculate capitalise capitalize categorise categorize change check choose cite clarify
        classify clean close code combine come comment compare compile complete compose compute condense
        consider construct continue convert copy correct count create critique debug decide decode define delete
        derive describe design detect determine develop devise diagnose discuss distinguish divide do document
        draft draw edit elaborate eliminate encode end estimate evaluate examine expand explain explore express
        extract fill find finish fix follow format formulate generate give go group guess help highlight
        identify illustrate imagine implement improve include indicate infer insert interpret introduce invent
        judge justify keep label list locate look make map mark match measure mention merge model name note
        number offer order organise organize outline paraphrase parse pick pinpoint plan point polish predict
        prepare present prioritise prioritize produce proofread propose provide prove pull put rank rate read
        reason recall recommend recount redraft reduce refactor reformat reformulate rephrase reply report
        represent respond restate restructure return reverse review revise rewrite rework say score select
        separate share shorten show simplify sketch solve sort specify spell split state suggest summarise
        summarize supply swap tag take talk teach tell test think tidy trace transcribe transform translate turn
        underline understand use verify walk weigh work write set quote let start isolate total filter paint
        script retell spot weave boil reduce contrast narrate portray depict craft pen sum condense shorten
        lengthen extend spell mention specify flag detect classify tally multiply subtract divide round convert
        express double halve square plot chart graph record jot list itemise itemize frame phrase word reword
        recast rephrase render give provide supply imagine pretend act role roleplay play assume suppose picture
        envision outline map chart trace track break split separate combine join link connect relate associate
        tie bear remember be stay avoid refrain skip ignore omit drop exclude include treat handle deal focus
        concentrate stick limit restrict cap aim try attempt begin open close wrap conclude finish finalise
        finalize double-check recheck cross-check confirm ensure guarantee keep maintain preserve retain hold
        leave stop pause restate repeat emphasise emphasize stress note observe notice spot see watch view
        browse scan skim study research investigate inspect audit vet screen filter sift sort rank rate grade
        score mark tick cross circle box bold italicise italicize capitalise translate transliterate optimise
        optimize estimate analyse analyze greet welcome thank apologise apologize invite remind warn advise
        encourage congratulate persuade convince pitch sell market promote announce introduce reframe repurpose"""
    )
)

#: Task families: a rewrite that names none of the original's families but names another asks for a
#: different task. Members are word stems or phrases; nouns of the same family count.
TASK_FAMILIES: dict[str, tuple[str, ...]] = {
    "summarise": ("summar", "condens", "recap", "gist", "sum up", "main point", "key point", "tl;dr",
                  "shorten", "overview", "digest", "boil down", "synopsis", "abstract", "concis"),
    "translate": ("translat", "into french", "into spanish", "into german", "into english", "render"),
    "proofread": ("proofread", "correct", "fix", "error", "mistake", "typo", "spelling", "grammar", "polish",
                  "edit", "revis", "improv", "clean up", "tidy", "optimi", "refactor", "speed up"),
    "classify": ("classif", "categor", "label", "sentiment", "tag", "sort into", "which class", "positive",
                 "negative", "spam", "decide whether", "decide if", "determine whether", "is it", "detect"),
    "extract": ("extract", "pull out", "pull", "list all", "find all", "identify", "get the", "pick out",
                "locate", "mention"),
    "answer": ("answer", "respond", "question", "reply", "what", "which", "who", "how", "why", "when",
               "where", "tell me"),
    "solve": ("solv", "calculat", "comput", "count", "work out", "how many", "how much", "evaluat", "simplif",
              "total", "find the value", "math", "arithmetic", "estimat"),
    "write": ("writ", "compos", "draft", "creat", "generat", "produc", "craft", "come up with", "pen "),
    "continue": ("continu", "finish the story", "what happens next", "extend the story"),
    "rewrite": ("rewrit", "rephras", "paraphras", "reword", "restat", "convert", "turn into",
                "transform", "simplif", "plain words", "plain language", "in other words"),
    "explain": ("explain", "describ", "why", "how does", "how do", "account", "discuss", "clarif", "teach",
                "what is", "what are", "elaborat", "outline"),
    "list": ("list", "enumerat", "brainstorm", "suggest", "idea", "tips", "ways", "name", "give me", "options",
             "recommend"),
    "compare": ("compar", "contrast", "differ", "versus", " vs", "similar"),
    "code": ("code", "function", "program", "implement", "debug", "class ", "method",
             "sql", "query", "regex", "python", "javascript"),
    "critique": ("review", "feedback", "critiqu", "assess", "evaluat", "comment on", "rate", "score", "judge", "analy",
                 "grade", "strength", "weakness"),
    "order": ("sort", "order", "rank", "arrang", "prioriti"),
}  # fmt: skip

#: Kinds of artifact a prompt asks for; a rewrite that asks for a kind the original does not name asks for
#: a different task ("Explain the rules of chess" -> "Write a poem about chess").
ARTIFACTS: dict[str, tuple[str, ...]] = {
    "poem": ("poem", "poetry", "verse", "rhyme", "ode", "ballad"),
    "haiku": ("haiku",), "limerick": ("limerick",), "sonnet": ("sonnet",), "couplet": ("couplet",),
    "story": ("story", "stories", "tale", "narrative", "whodunit", "fable", "fairy tale", "novel", "anecdote"),
    "essay": ("essay", "composition"),
    "email": ("email", "e-mail", "mail", "memo", "write to", "out-of-office"),
    "advert": ("advertisement", "advert", "ad", "ads", "commercial", "promo", "marketing", "brochure",
               "flyer", "leaflet", "pamphlet", "campaign"),
    "report": ("report", "news", "article", "press release", "blog", "post"),
    "plan": ("plan", "schedule", "itinerary", "roadmap", "timeline"),
    "quiz": ("quiz", "exam", "test questions", "questionnaire", "trivia"),
    "tweet": ("tweet", "post", "caption", "status"),
    "speech": ("speech", "toast", "address", "talk", "eulogy", "sermon"),
    "song": ("song", "lyrics", "jingle", "rap", "anthem"),
    "joke": ("joke", "pun", "riddle", "one-liner"),
    "slogan": ("slogan", "tagline", "motto", "catchphrase", "headline"),
    "script": ("script", "screenplay", "scene", "play", "dialogue", "conversation", "skit"),
    "recipe": ("recipe",),
    "lesson": ("lesson", "tutorial", "course", "curriculum", "worksheet", "lecture"),
    "biography": ("biography", "profile", "bio"),
    "proposal": ("proposal", "pitch", "business plan"),
    "resume": ("resume", "cv", "cover letter"),
    "invitation": ("invitation", "invite", "announcement"),
    "review": ("review", "critique", "feedback"),
}  # fmt: skip

#: Opposites: a rewrite that swaps one for the other changes what the task asks.
OPPOSITES: tuple[tuple[str, str], ...] = tuple(
    tuple(pair.split("/"))  # type: ignore[misc]
    for pair in _words(
        """future/past past/present future/present active/passive formal/informal positive/negative
        increase/decrease increasing/decreasing ascending/descending before/after first/last earliest/latest
        oldest/newest youngest/oldest largest/smallest biggest/smallest highest/lowest longest/shortest
        most/least more/less longer/shorter higher/lower larger/smaller maximum/minimum max/min
        fastest/slowest cheapest/most-expensive advantages/disadvantages pros/cons benefits/drawbacks
        strengths/weaknesses agree/disagree true/false correct/incorrect valid/invalid include/exclude
        support/oppose for/against simple/complex beginner/expert beginners/experts adult/child adults/children
        singular/plural uppercase/lowercase start/end beginning/end north/south east/west left/right
        celsius/fahrenheit metric/imperial kilometres/miles kilometers/miles kg/pounds add/subtract
        multiply/divide sum/product encode/decode encrypt/decrypt compress/decompress import/export
        input/output buy/sell sister/brother mother/father daughter/son wife/husband girl/boy woman/man
        women/men morning/evening summer/winter spring/autumn day/night hot/cold warm/cool"""
    )
)

#: Output-format constraints: if the original names a group, the rewrite must name it too (any member).
FORMAT_GROUPS: dict[str, tuple[str, ...]] = {
    "JSON": ("json", "object with the key", "dictionary"),
    "numbered list": ("numbered", "1.", "1)", "number each", "numbering"),
    "bullets": ("bullet", "dash", "- "),
    "table": ("table", "column", "row"),
    "comma-separated": ("comma", "csv"),
    "letter": ("letter",),
    "only": ("only", "just", "nothing else", "nothing more", "nothing but", "solely", "alone", "no other",
             "no explanation", "without explanation", "no additional", "exclusively", "single", "no extra", "bare"),
    "one word": ("one word", "single word", "one-word", "a word"),
    "yes/no": ("yes",),
    "true/false": ("true",),
    "markdown": ("markdown",),
    "YAML": ("yaml",), "XML": ("xml",), "CSV": ("csv", "comma-separated", "comma separated"), "HTML": ("html",),
    "LaTeX": ("latex",), "one per line": ("per line", "each line", "own line", "separate line"),
    "code block": ("code block", "```", "fenced"),
    "uppercase": ("uppercase", "upper case", "capital letters", "all caps"),
    "lowercase": ("lowercase", "lower case"),
    "title": ("title", "heading", "headline"),
    "quoted": ("quote", "quotation"),
}  # fmt: skip

#: Length constraints: a size word of the original must survive (any member of its group).
LENGTH_GROUPS: dict[str, tuple[str, ...]] = {
    "short": ("short", "brief", "concise", "succinct", "terse", "compact", "few words", "shorter"),
    "long": ("long", "detailed", "in detail", "in depth", "in-depth", "extensive", "longer"),
    "word": ("word",),
    "sentence": ("sentence",),
    "paragraph": ("paragraph",),
    "line": ("line",),
    "character": ("character", "char"),
    "page": ("page",),
    "item": ("item", "point", "bullet", "entr", "tip", "idea", "example", "way", "reason", "step", "option",
             "question", "name", "suggestion", "fact", "sentence"),
}  # fmt: skip

#: Synonym pairs for the on-task word recall (stems on the left map to the stem on the right).
SYNONYMS: dict[str, str] = {
    "brief": "short", "concise": "short", "succinct": "short", "condens": "summar", "recap": "summar",
    "gist": "summar", "synopsis": "summar", "overview": "summar", "compos": "writ", "draft": "writ",
    "creat": "writ", "generat": "writ", "craft": "writ", "produc": "writ", "rephras": "rewrit",
    "paraphras": "rewrit", "reword": "rewrit", "restat": "rewrit", "categor": "classif", "label": "classif",
    "comput": "calculat", "work": "calculat", "determin": "calculat", "figur": "calculat", "respond": "answer",
    "reply": "answer", "describ": "explain", "clarif": "explain", "errors": "mistak", "error": "mistak",
    "typo": "mistak", "fix": "correct", "repair": "correct", "identif": "find", "locat": "find",
    "determine": "find", "pick": "choos", "select": "choos", "suggest": "recommend", "propos": "recommend",
    "propose": "recommend", "tell": "explain", "outline": "list", "enumerat": "list", "brainstorm": "list",
    "film": "movie", "flat": "apartment", "feedback": "review", "opinion": "review", "passag": "paragraph",
    "articl": "text", "document": "text", "messag": "email", "mail": "email", "kid": "child", "children": "child",
    "individu": "person", "peopl": "person", "big": "larg", "larg": "larg", "small": "littl", "tiny": "littl",
    "quick": "fast", "rapid": "fast", "begin": "start", "commenc": "start", "purchas": "buy", "bought": "buy",
    "cost": "price", "pai": "pay", "paid": "pay", "spend": "pay", "spent": "pay", "help": "assist",
    "correctly": "correct", "right": "correct", "properly": "correct",
}  # fmt: skip
