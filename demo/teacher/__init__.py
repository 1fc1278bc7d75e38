"""The offline demo teacher: an OpenAI-compatible HTTP server for demos and tests on machines with no network.

It is NOT a language model. Replies are composed from a small phrase grammar written for this project and from
the seed pool (answers are the outputs of the seed task nearest the question), so the platform's real client
path — HTTP, timeouts, retries, 429s, token accounting — runs end to end without a model or a network.
It can inject faults on request: a queue of faults for the next requests and/or random fault rates.

Control API (JSON): POST /_teacher/faults {"queue": [...], "rates": {...}, "retry_after": s, "slow_seconds": s,
"seed": n}; GET /_teacher/stats; POST /_teacher/reset.
Faults: 429, 500, 503, slow, truncated, malformed, empty, reset, length.
Rating mode: llm/rating.py's complexity and quality prompts get a "Complexity: n" / "Quality: n" line (1–6).
Judge mode: a prompt in the form of llm/judge.py's judge prompt gets "Score 1/Score 2/Reason" lines from a
word-coverage heuristic, with a deliberate first-position bias in some replies.
Tagging mode: llm/tagging.py's prompt gets "Type/Verb/Object" lines: the type from keywords among the types the
prompt lists (else the listed type whose definition shares the most words with the instruction), the first words
(the verb: an English instruction's first word, a Chinese one's first two characters; the object: the next word
that is not a function word, or the two characters after 的).
Evolution mode: selfinstruct/evolution.py's evolving prompt gets the instruction back with a framing phrase and a
requirement added (long enough to pass the near-duplicate check); one reply in eight is the parent unchanged and
one in sixteen an apology, so the elimination rules run too. Its equality prompt gets "Equal" when the two texts
have the same words, else "Not equal".
It is part of the demo app, not of `llm`: nothing below `demo` in the layering imports it (the framing it shares with
the served model, llm/httpserver.py, stays in `llm`). The pieces: the phrase grammar and shared helpers (text.py),
the composer of task lists and answers (compose.py), the judge, rating, tagging and evolution modes (modes.py), the
fault plan, state and injection (faults.py), and the HTTP handler and server (server.py).
"""

from demo.teacher.compose import CLASSIFY_HINTS, Composer, load_seed_pool
from demo.teacher.faults import FAULTS, FaultPlan, TeacherState
from demo.teacher.modes import JUDGE_REQUEST, judge_reply
from demo.teacher.server import TeacherServer, default_seed_files, make_server
from demo.teacher.text import DISCLAIMER, MODEL_ID, apply_stop, count_tokens, is_chinese

__all__ = [
    "CLASSIFY_HINTS",
    "DISCLAIMER",
    "FAULTS",
    "JUDGE_REQUEST",
    "MODEL_ID",
    "Composer",
    "FaultPlan",
    "TeacherServer",
    "TeacherState",
    "apply_stop",
    "count_tokens",
    "default_seed_files",
    "is_chinese",
    "judge_reply",
    "load_seed_pool",
    "make_server",
]
