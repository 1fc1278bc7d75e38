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


def instruction_key(text: str) -> str:
    """Exact-duplicate key: whitespace-normalized, case-folded."""
    return hashlib.sha256(normalize_whitespace(text).casefold().encode("utf-8")).hexdigest()


def detect_language(text: str) -> str:
    """'zh' when CJK characters make up at least a fifth of the letters, else 'en'."""
    cjk = len(_CJK.findall(text))
    letters = sum(ch.isalpha() for ch in text)
    return "zh" if cjk and cjk >= 0.2 * max(letters, 1) else "en"
