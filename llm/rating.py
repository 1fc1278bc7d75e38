"""An LLM rating one instruction's complexity, and one instruction/response pair's quality, on a 1–6 scale (the
scale DEITA scores both on). The prompts are written for this project and ask for a fixed one-line reply, so the
rating parses without a second call; a reply that does not parse is asked again once.

Complexity (instruction alone): 1 one fact or a trivial transformation; 2 a short routine task; 3 a few steps or
one constraint; 4 several steps or constraints, some domain knowledge; 5 multi-step reasoning or specialised
knowledge under several constraints; 6 expert-level work with many interacting requirements.
Quality (the response, for this instruction): 1 off topic, wrong or empty; 2 mostly wrong or unhelpful; 3 partly
right with clear gaps or errors; 4 right and relevant but thin or unclear in places; 5 right, complete and clear;
6 excellent — right, complete, well organised and exactly what was asked.
"""

from __future__ import annotations

import re

from llm.client import LLMError, call_llm

RATING_SYSTEM = "You rate instructions and answers for a dataset of training examples. You are strict and consistent."
COMPLEXITY_TEMPLATE = """Rate how demanding this instruction is for an AI assistant, from 1 to 6:
1 = one fact or a trivial transformation; 2 = a short routine task; 3 = a few steps or one constraint to respect; \
4 = several steps or constraints, some domain knowledge; 5 = multi-step reasoning or specialised knowledge under \
several constraints; 6 = expert-level work with many interacting requirements.
The instruction may be in Chinese or English.

### Instruction to rate
{instruction}

Reply with exactly one line and nothing else:
Complexity: <whole number from 1 to 6>"""
QUALITY_TEMPLATE = """Rate the response below as an answer to its instruction, from 1 to 6:
1 = off topic, wrong or empty; 2 = mostly wrong or unhelpful; 3 = partly right, with clear gaps or errors; \
4 = right and relevant but thin or unclear in places; 5 = right, complete and clear; 6 = excellent: right, \
complete, well organised and exactly what was asked.
Both may be in Chinese or English.

### Instruction to rate
{instruction}

### Response to rate
{response}

Reply with exactly one line and nothing else:
Quality: <whole number from 1 to 6>"""

_RATING = re.compile(r"(?im)^\W*(complexity|quality)\W*[:：]\s*(\d+(?:\.\d+)?)")
PARSE_ATTEMPTS = 2


class RatingError(Exception):
    """No usable rating: the call failed, or the reply could not be read twice."""


def parse_rating(text: str, what: str) -> int:
    """The 'Complexity: n' or 'Quality: n' line as a whole number 1–6; ValueError saying what is wrong."""
    for name, value in _RATING.findall(text or ""):
        if name.lower() == what:
            number = float(value)
            if not 1 <= number <= 6:
                raise ValueError(f"rating reply: {what} is {number:g}, outside 1–6")
            return round(number)
    raise ValueError(f"rating reply has no '{what.capitalize()}:' line: {(text or '')[:200]!r}")


def ask_parsed(endpoint, *, system: str, prompt: str, parse, max_tokens: int, project_id, error, what: str):
    """(parse(reply text), the reply) for a prompt that asks for a fixed one-line form, at temperature 0; a reply
    that does not parse (parse raises ValueError) is asked again once, then `error` with what was wrong. A failed
    call is `error` too, except an LLMError not worth retrying (a configuration problem: every other item would
    fail the same way), which is raised as is."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    problem = ""
    for _ in range(PARSE_ATTEMPTS):
        try:
            reply = call_llm(
                endpoint,
                purpose="rating",
                messages=messages,
                project_id=project_id,
                temperature=0.0,
                max_tokens=max_tokens,
            )
        except LLMError as exc:
            if not exc.retryable:
                raise
            raise error(f"{what} call failed: {exc}") from exc
        try:
            return parse(reply.text), reply
        except ValueError as exc:
            problem = str(exc)
    raise error(problem)


def rate(endpoint, *, what: str, instruction: str, response: str = "", project_id=None) -> int:
    """One rating ("complexity" of the instruction, "quality" of the response); RatingError when none is had."""
    template = COMPLEXITY_TEMPLATE if what == "complexity" else QUALITY_TEMPLATE
    prompt = template.format(instruction=instruction.strip(), response=response.strip())
    rating, _ = ask_parsed(
        endpoint,
        system=RATING_SYSTEM,
        prompt=prompt,
        parse=lambda text: parse_rating(text, what),
        max_tokens=20,
        project_id=project_id,
        error=RatingError,
        what="rating",
    )
    return rating
