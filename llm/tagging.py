"""An LLM tagging one instruction with a task type from a taxonomy it is given (key + definition per type) and with
its root verb and that verb's direct object, as the Self-Instruct paper's verb–object analysis does with a parser:
no parser covers both English and Chinese here without downloading a model, so the teacher LLM is the tagger
(the reply is one fixed three-line form, read without a second call; a reply that does not read is asked again
once). Verbs and objects come back lower-cased and in their base form as the LLM gives them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm.rating import ask_parsed

TAG_SYSTEM = "You label instructions for a dataset of training examples. You are consistent and brief."
TAG_TEMPLATE = """Label the instruction below.
1. Its task type: exactly one key from this list.
{types}
2. Its root verb (the main action asked for) in base form, and the direct object of that verb (the head noun
only). Use the instruction's own language; write "-" when there is none.

### Instruction to label
{instruction}

Reply with exactly these three lines and nothing else:
Type: <key>
Verb: <verb>
Object: <noun>"""

_LINE = re.compile(r"(?im)^\W*(type|verb|object)\W*[:：]\s*(.*?)\s*$")
MAX_WORD = 40


class TaggingError(Exception):
    """No usable tags: the call failed, or the reply could not be read twice."""


@dataclass(frozen=True)
class Tags:
    task_type: str
    verb: str
    object: str


def parse_tags(text: str, keys: list[str]) -> Tags:
    """The three lines as Tags; ValueError saying what is wrong. A type outside the taxonomy is an error."""
    found = {name.lower(): value.strip().strip("<>\"'“”").lower() for name, value in _LINE.findall(text or "")}
    if "type" not in found:
        raise ValueError(f"tagging reply has no 'Type:' line: {(text or '')[:200]!r}")
    if found["type"] not in keys:
        raise ValueError(f"tagging reply: type {found['type'][:60]!r} is not one of the taxonomy's keys")

    def word(name: str) -> str:
        value = found.get(name, "")
        return "" if value in ("-", "none", "无", "") else value[:MAX_WORD]

    return Tags(task_type=found["type"], verb=word("verb"), object=word("object"))


def tag(endpoint, *, instruction: str, types: list[tuple[str, str]], project_id=None):
    """(the instruction's Tags, the reply that gave them); TaggingError when none are had. An LLMError not worth
    retrying is raised as is."""
    listing = "\n".join(f"- {key}: {definition}" for key, definition in types)
    return ask_parsed(
        endpoint,
        system=TAG_SYSTEM,
        prompt=TAG_TEMPLATE.format(types=listing, instruction=instruction.strip()),
        parse=lambda text: parse_tags(text, [key for key, _ in types]),
        max_tokens=40,
        project_id=project_id,
        error=TaggingError,
        what="tagging",
    )
