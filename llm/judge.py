"""LLM-as-judge for pairs of answers, with position swap.

A judge model reads one request and two answers and gives each a score from 1 to 10 with a short reason. Judges
prefer one position more often than chance, so every pair is judged twice — as (a, b) and as (b, a) — and each
answer's score is the mean of its two scores. `flipped` records whether the order changed the winner; the share
of flipped pairs is the judge's position-bias rate.

The prompt is written for this project. It asks for a fixed reply form so the scores parse without a second call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm.client import LLMError, call_llm

JUDGE_SYSTEM = (
    "You grade answers written by AI assistants. You are impartial: the position of an answer and its length "
    "say nothing about its quality."
)
JUDGE_TEMPLATE = """Two assistants answered the same request. Grade each answer on its own merits from 1 (useless or \
wrong) to 10 (complete, correct and well suited to the request): consider whether it does what was asked, whether \
it is accurate, and whether it is clear. The answers may be in Chinese or English; grade them in their own language.

### Request
{question}

### Answer 1
{first}

### Answer 2
{second}

Reply with exactly three lines and nothing else:
Score 1: <whole number from 1 to 10>
Score 2: <whole number from 1 to 10>
Reason: <one sentence comparing the two answers>"""

_SCORE = re.compile(r"(?im)^\W*score\s*([12])\W*[:：]\s*(\d+(?:\.\d+)?)\s*(?:/\s*10)?")
_REASON = re.compile(r"(?im)^\W*reason\W*[:：]\s*(.+)$")
PARSE_ATTEMPTS = 2


class JudgeError(Exception):
    """The judge gave no usable verdict (the call failed, or the reply could not be read twice)."""


@dataclass(frozen=True)
class Verdict:
    """One order: the score of the answer shown first and of the one shown second."""

    first: float
    second: float
    reason: str


@dataclass(frozen=True)
class PairJudgement:
    """Both orders of a pair (a, b): a's and b's scores shown first/second, their means, and the flip."""

    ab: Verdict  # a shown first
    ba: Verdict  # b shown first

    @property
    def score_a(self) -> float:
        return (self.ab.first + self.ba.second) / 2

    @property
    def score_b(self) -> float:
        return (self.ab.second + self.ba.first) / 2

    @staticmethod
    def _winner(a: float, b: float) -> int:
        return (a > b) - (a < b)  # 1: a, -1: b, 0: tie

    @property
    def winner(self) -> int:
        return self._winner(self.score_a, self.score_b)

    @property
    def flipped(self) -> bool:
        """The winner changed with the order (a tie in one order and a win in the other counts as a change)."""
        return self._winner(self.ab.first, self.ab.second) != self._winner(self.ba.second, self.ba.first)

    def as_dict(self) -> dict:
        return {
            "order_ab": [self.ab.first, self.ab.second],
            "order_ba": [self.ba.second, self.ba.first],  # always [a, b]
            "reasons": [self.ab.reason, self.ba.reason],
            "score_a": self.score_a,
            "score_b": self.score_b,
            "flipped": self.flipped,
        }


def judge_prompt(question: str, first: str, second: str) -> str:
    return JUDGE_TEMPLATE.format(question=question.strip(), first=first.strip(), second=second.strip())


def parse_verdict(text: str) -> Verdict:
    """Read 'Score 1: n', 'Score 2: n' and 'Reason: …'; ValueError naming what is missing or out of range."""
    scores: dict[str, float] = {}
    for which, value in _SCORE.findall(text or ""):
        scores.setdefault(which, float(value))
    missing = [f"Score {n}" for n in ("1", "2") if n not in scores]
    if missing:
        raise ValueError(f"judge reply has no {' and no '.join(missing)} line: {text[:200]!r}")
    for which, value in scores.items():
        if not 1 <= value <= 10:
            raise ValueError(f"judge reply: Score {which} is {value:g}, outside 1–10")
    reason = _REASON.search(text)
    return Verdict(first=scores["1"], second=scores["2"], reason=reason.group(1).strip()[:1000] if reason else "")


def judge_once(endpoint, *, question: str, first: str, second: str, project_id=None) -> Verdict:
    messages = [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": judge_prompt(question, first, second)},
    ]
    problem = ""
    for _ in range(PARSE_ATTEMPTS):
        try:
            reply = call_llm(
                endpoint, purpose="judge", messages=messages, project_id=project_id, temperature=0.0, max_tokens=200
            )
        except LLMError as exc:
            raise JudgeError(f"judge call failed: {exc}") from exc
        try:
            return parse_verdict(reply.text)
        except ValueError as exc:
            problem = str(exc)
    raise JudgeError(problem)


def judge_pair(endpoint, *, question: str, a: str, b: str, project_id=None) -> PairJudgement:
    """Judge (a, b) and (b, a)."""
    ab = judge_once(endpoint, question=question, first=a, second=b, project_id=project_id)
    ba = judge_once(endpoint, question=question, first=b, second=a, project_id=project_id)
    return PairJudgement(ab=ab, ba=ba)
