"""Text helpers shared by seeds and generation: normalization, keys, language detection."""

import hashlib
import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_SPACE = re.compile(r"\s+")


def normalize_whitespace(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def prompt_text(instruction: str, input_text: str) -> str:
    """An instruction and its input as one prompt, the way completions are requested and exported."""
    return f"{instruction}\n\n{input_text}" if input_text else instruction


def conversation_text(system: str, history: list, instruction: str, input_text: str) -> str:
    """A multi-turn example's prompt as raw text: the system text, then each earlier turn's user and assistant text,
    then this turn's prompt, separated by blank lines; the model server joins a chat request's messages the same way
    for a model trained without a chat template. With no system text and no history it is `prompt_text`."""
    parts = [system] if system else []
    for user, assistant in history:
        parts += [user, assistant]
    return "\n\n".join([*parts, prompt_text(instruction, input_text)])


def conversation_messages(system: str, history: list, instruction: str, input_text: str, output: str) -> list[dict]:
    """The same example as chat messages: system (when there is one), the earlier turns, this prompt and answer."""
    messages = [{"role": "system", "content": system}] if system else []
    for user, assistant in history:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return [
        *messages,
        {"role": "user", "content": prompt_text(instruction, input_text)},
        {"role": "assistant", "content": output},
    ]


def instruction_key(text: str) -> str:
    """Exact-duplicate key: whitespace-normalized, case-folded."""
    return hashlib.sha256(normalize_whitespace(text).casefold().encode("utf-8")).hexdigest()


def detect_language(text: str) -> str:
    """'zh' when CJK characters make up at least a fifth of the letters, else 'en'."""
    cjk = len(_CJK.findall(text))
    letters = sum(ch.isalpha() for ch in text)
    return "zh" if cjk and cjk >= 0.2 * max(letters, 1) else "en"
