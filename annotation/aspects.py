"""The questions a project may ask with each ranking besides the order — Likert aspects rated per completion
(HelpSteer2's five by default), a preference strength per adjacent pair, a rationale — and their rules: what a
project may define (`clean_aspect_definitions`, and the console's one-aspect-a-line text) and what a submission's
answers must be (`clean_answers`, called by both the ORM path in claims.py and the fast path in fastpath.py).

Pure rules, no database: the settings paths (console, API, CLI) and both submission paths read them from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from annotation.models import RationaleMode

MAX_ASPECTS = 10
KEY_PATTERN = re.compile(r"[a-z_]{1,32}")
SCALE_LOWEST, SCALE_HIGHEST = 0, 10  # an aspect's min and max lie within these, min < max
LABEL_MAX_CHARS = 100
RATIONALE_MAX_CHARS = 5000
DEFINITION_KEYS = ("key", "label", "label_zh", "min", "max")

# HelpSteer2 (NVIDIA, 2024): five attributes, each rated 0–4 per response.
HELPSTEER2_ASPECTS = (
    {"key": "helpfulness", "label": "Helpfulness", "label_zh": "有用性", "min": 0, "max": 4},
    {"key": "correctness", "label": "Correctness", "label_zh": "正确性", "min": 0, "max": 4},
    {"key": "coherence", "label": "Coherence", "label_zh": "连贯性", "min": 0, "max": 4},
    {"key": "complexity", "label": "Complexity", "label_zh": "复杂度", "min": 0, "max": 4},
    {"key": "verbosity", "label": "Verbosity", "label_zh": "冗长度", "min": 0, "max": 4},
)


def helpsteer2_aspects() -> list[dict]:
    return [dict(a) for a in HELPSTEER2_ASPECTS]


class Strength(TextChoices):
    """How much better an answer is than the next one down the ranking, strongest first."""

    MUCH_BETTER = "much_better", _("Much better")
    BETTER = "better", _("Better")
    SLIGHTLY_BETTER = "slightly_better", _("Slightly better")
    TIE = "tie", _("About the same")


STRENGTHS = tuple(Strength.values)


class AspectError(ValueError):
    """A definition or an answer that breaks a rule; `field` is the input it names (aspects, strengths, rationale)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


# --- A project's definitions ------------------------------------------------------------------------------------


def _clean_definition(item, where: str) -> dict:
    if not isinstance(item, dict):
        raise AspectError("aspects", f"{where}: give an object with {', '.join(DEFINITION_KEYS)}")
    unknown = sorted(set(item) - set(DEFINITION_KEYS))
    missing = [k for k in DEFINITION_KEYS if k not in item]
    if unknown or missing:
        said = [f"unknown {', '.join(map(str, unknown))}"] if unknown else []
        said += [f"missing {', '.join(missing)}"] if missing else []
        raise AspectError("aspects", f"{where}: {'; '.join(said)} (give {', '.join(DEFINITION_KEYS)})")
    key = item["key"]
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise AspectError("aspects", f"{where}: key {key!r}: use 1–32 lowercase letters or underscores")
    labels = {}
    for name in ("label", "label_zh"):
        text = item[name].strip() if isinstance(item[name], str) else ""
        if not text or len(text) > LABEL_MAX_CHARS:
            raise AspectError("aspects", f"{where}: {name}: give 1–{LABEL_MAX_CHARS} characters (both languages)")
        labels[name] = text
    low, high = item["min"], item["max"]
    if not all(type(v) is int for v in (low, high)) or not SCALE_LOWEST <= low < high <= SCALE_HIGHEST:
        raise AspectError(
            "aspects", f"{where}: min and max: whole numbers with {SCALE_LOWEST} ≤ min < max ≤ {SCALE_HIGHEST}"
        )
    return {"key": key, **labels, "min": low, "max": high}


def _checked_list(cleaned: list[dict]) -> list[dict]:
    if len(cleaned) > MAX_ASPECTS:
        raise AspectError("aspects", f"at most {MAX_ASPECTS} aspects")
    keys = [a["key"] for a in cleaned]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise AspectError("aspects", f"each key once; repeated: {', '.join(repeated)}")
    return cleaned


def clean_aspect_definitions(value) -> list[dict]:
    """A project's aspects as stored: a list of {key, label, label_zh, min, max} (empty: none asked)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise AspectError("aspects", "give a list of {key, label, label_zh, min, max} (an empty list: none)")
    if len(value) > MAX_ASPECTS:
        raise AspectError("aspects", f"at most {MAX_ASPECTS} aspects")
    return _checked_list([_clean_definition(item, f"item {n}") for n, item in enumerate(value, 1)])


_LINE = re.compile(r"^\s*(?P<low>-?\d{1,3})\s*[-–]\s*(?P<high>-?\d{1,3})\s*$")


def parse_aspect_lines(text: str) -> list[dict]:
    """The console's text form, one aspect a line: `key | English label | 中文标签 | min-max` (blank lines skipped)."""
    lines = [(n, line) for n, line in enumerate((text or "").splitlines(), 1) if line.strip()]
    if len(lines) > MAX_ASPECTS:
        raise AspectError("aspects", f"at most {MAX_ASPECTS} aspects")
    cleaned = []
    for n, line in lines:
        parts = [p.strip() for p in line.split("|")]
        scale = _LINE.match(parts[3]) if len(parts) == 4 else None
        if scale is None:
            raise AspectError("aspects", f"line {n}: write key | English label | 中文标签 | min-max")
        item = {"key": parts[0], "label": parts[1], "label_zh": parts[2]}
        item |= {"min": int(scale["low"]), "max": int(scale["high"])}
        cleaned.append(_clean_definition(item, f"line {n}"))
    return _checked_list(cleaned)


def aspect_lines(aspects) -> str:
    """parse_aspect_lines' text for stored definitions."""
    return "\n".join(f"{a['key']} | {a['label']} | {a['label_zh']} | {a['min']}-{a['max']}" for a in aspects or [])


def aspect_label(aspect: dict, language: str) -> str:
    return aspect["label_zh"] if (language or "").lower().startswith("zh") else aspect["label"]


# --- A submission's answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Questions:
    """What a project asks with a ranking, from its RankingConfig (or the fast path's read of it)."""

    aspects: list
    ask_strength: bool = False
    rationale: str = RationaleMode.OFF

    @property
    def asks_anything(self) -> bool:
        return bool(self.aspects) or self.ask_strength or self.rationale != RationaleMode.OFF


def questions_of(config) -> Questions:
    return Questions(aspects=config.aspects or [], ask_strength=config.ask_strength, rationale=config.rationale)


def questions_payload(config) -> dict:
    """What a claim's answer tells an API labeler to give with the ranking."""
    return {
        "aspects": [dict(a) for a in config.aspects or []],
        "ask_strength": config.ask_strength,
        "strengths": list(STRENGTHS),
        "rationale": config.rationale,
    }


NO_ANSWERS = {"aspects": {}, "strengths": [], "rationale": ""}


def clean_answers(*, questions: Questions, completion_ids, groups, flag: str = "", answers: dict | None = None):
    """The answers to store with a ranking, from those given ({"aspects", "strengths", "rationale"}, each optional):
    {"aspects": {"<completion id>": {key: int}}, "strengths": [...], "rationale": str}. Whatever is given must fit
    what the project asks; all of it is required with a ranking (a flag, with or without a ranking, needs none of
    it). Raises AspectError naming the field."""
    given = answers or {}
    if not questions.asks_anything and not any(given.values()):
        return dict(NO_ANSWERS)  # the common case: nothing asked, nothing given, nothing to check
    required = bool(groups) and not flag
    return {
        "aspects": _clean_ratings(questions.aspects, completion_ids, given.get("aspects"), required=required),
        "strengths": _clean_strengths(questions.ask_strength, groups, given.get("strengths"), required=required),
        "rationale": _clean_rationale(questions.rationale, given.get("rationale") or "", required=required),
    }


def _clean_ratings(asked, completion_ids, given, *, required: bool) -> dict:
    if given in (None, {}, ""):
        given = {}
    elif not asked:
        raise AspectError("aspects", "this project asks no aspects; leave them out")
    if not isinstance(given, dict):
        raise AspectError("aspects", 'give {"<completion id>": {"<aspect key>": score, …}, …}')
    shown = {str(cid): cid for cid in completion_ids}
    by_key = {a["key"]: a for a in asked}
    cleaned: dict[str, dict[str, int]] = {}
    for cid, scores in given.items():
        if str(cid) not in shown:
            raise AspectError("aspects", f"{cid}: not an answer of this task")
        if not isinstance(scores, dict):
            raise AspectError("aspects", f"{cid}: give {{aspect key: score}}")
        for key, score in scores.items():
            aspect = by_key.get(key)
            if aspect is None:
                raise AspectError("aspects", f"{cid}.{key}: unknown aspect; this project asks {', '.join(by_key)}")
            if type(score) is not int or not aspect["min"] <= score <= aspect["max"]:
                raise AspectError("aspects", f"{cid}.{key}: a whole number from {aspect['min']} to {aspect['max']}")
        cleaned[str(cid)] = {k: scores[k] for k in by_key if k in scores}
    if required and asked:
        for cid in shown:
            missing = [k for k in by_key if k not in cleaned.get(cid, {})]
            if missing:
                raise AspectError("aspects", f"{cid}: rate every answer on every aspect (missing {', '.join(missing)})")
    return {cid: cleaned[cid] for cid in shown if cleaned.get(cid)}


def _clean_strengths(asked: bool, groups, given, *, required: bool) -> list:
    if given in (None, [], ""):
        given = []
    elif not asked:
        raise AspectError("strengths", "this project asks no preference strength; leave them out")
    if not isinstance(given, list):
        raise AspectError("strengths", f"give a list of {', '.join(STRENGTHS)}")
    pairs = max(len(groups or []) - 1, 0)
    if not given and not (required and asked and pairs):
        return []
    if len(given) != pairs or any(s not in STRENGTHS for s in given):
        raise AspectError(
            "strengths", f"give one of {', '.join(STRENGTHS)} for each of the ranking's {pairs} adjacent pairs"
        )
    return list(given)


def _clean_rationale(mode: str, given, *, required: bool) -> str:
    if not isinstance(given, str):
        raise AspectError("rationale", "give text")
    text = given.strip()
    if text and mode == RationaleMode.OFF:
        raise AspectError("rationale", "this project asks for no rationale; leave it out")
    if len(text) > RATIONALE_MAX_CHARS:
        raise AspectError("rationale", f"at most {RATIONALE_MAX_CHARS} characters")
    if required and mode == RationaleMode.REQUIRED and not text:
        raise AspectError("rationale", "say why you ranked the answers so (this project requires it)")
    return text


def page_questions(config, language: str) -> dict | None:
    """What the labeler page shows besides the order, labels in the page's language; None when nothing is asked
    (the page then stays as it always was)."""
    questions = questions_of(config)
    if not questions.asks_anything:
        return None
    return {
        "aspects": [
            {
                "key": a["key"],
                "label": aspect_label(a, language),
                "min": a["min"],
                "max": a["max"],
                "values": list(range(a["min"], a["max"] + 1)),
            }
            for a in questions.aspects
        ],
        "ask_strength": questions.ask_strength,
        "strengths": list(Strength.choices),
        "rationale": questions.rationale,
        "rationale_max": RATIONALE_MAX_CHARS,
    }


# --- A stored ranking's answers, as the review page shows them ---------------------------------------------------


def answers_for_review(ranking: dict, labels: dict[int, str], aspects, language: str) -> dict:
    """A labeler's aspect scores and preference strengths, compactly in the answers' letters: "scores", a
    (letter, "Helpfulness 3 · Safety 1") per rated answer in the order shown; "strengths", the order with each
    adjacent pair's strength between its letters ("B ‹Much better› A ‹About the same› C"), "" when none given."""
    names = {a["key"]: aspect_label(a, language) for a in aspects or []}
    rated = ranking.get("aspects") or {}
    scores = [
        (letter, " · ".join(f"{names.get(key, key)} {value}" for key, value in rated[str(cid)].items()))
        for cid, letter in labels.items()
        if rated.get(str(cid))
    ]
    given = ranking.get("strengths") or []
    groups = [" = ".join(labels.get(cid, "?") for cid in group) for group in ranking.get("order") or []]
    strengths = ""
    if given and groups:
        shown = dict(Strength.choices)
        parts = [groups[0]]
        for n, group in enumerate(groups[1:]):
            word = shown.get(given[n], given[n]) if n < len(given) else "?"
            parts.append(f"‹{word}› {group}")
        strengths = " ".join(parts)
    return {"scores": scores, "strengths": strengths}
