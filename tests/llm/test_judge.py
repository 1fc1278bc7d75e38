"""The LLM judge: our prompt, reading verdicts, both orders per pair, and the demo teacher's judge mode."""

import pytest

from demo.teacher import JUDGE_REQUEST, judge_reply
from llm import judge
from llm.judge import JudgeError, PairJudgement, Verdict, judge_pair, judge_prompt, parse_verdict
from llm.models import LLMRequest


def test_the_prompt_holds_both_answers_in_order_and_asks_for_the_reply_form():
    text = judge_prompt(" What is 2+2? ", "Four.", "Five.")
    assert text.index("### Answer 1\nFour.") < text.index("### Answer 2\nFive.")
    assert "Score 1:" in text and "Score 2:" in text and "Reason:" in text
    assert [g.strip() for g in JUDGE_REQUEST.search(text).groups()] == ["What is 2+2?", "Four.", "Five."]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Score 1: 7\nScore 2: 4\nReason: the first is right.", (7, 4, "the first is right.")),
        ("**Score 1**: 8/10\n**Score 2**: 9 / 10\nReason：更完整", (8, 9, "更完整")),
        ("score 2: 3\nscore 1: 6.5", (6.5, 3, "")),  # any order, no reason
        ("Score 1：10\nScore 2：1\n", (10, 1, "")),  # full-width colons
    ],
)
def test_verdicts_parse_in_the_forms_models_write_them(reply, expected):
    verdict = parse_verdict(reply)
    assert (verdict.first, verdict.second, verdict.reason) == expected


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("Score 1: 7\nThe second is worse.", "no Score 2"),
        ("I like both.", "no Score 1 and no Score 2"),
        ("Score 1: 0\nScore 2: 5", "Score 1 is 0, outside 1–10"),
        ("Score 1: 5\nScore 2: 11", "Score 2 is 11, outside 1–10"),
    ],
)
def test_unreadable_verdicts_say_what_is_wrong(reply, message):
    with pytest.raises(ValueError, match=message):
        parse_verdict(reply)


def test_pair_scores_average_both_orders_and_flips_are_detected():
    # a shown first: 8 vs 6 (a wins); b shown first: b 7 vs a 5 (b wins) -> the order decided the winner
    pair = PairJudgement(ab=Verdict(8, 6, ""), ba=Verdict(7, 5, ""))
    assert (pair.score_a, pair.score_b) == (6.5, 6.5) and pair.winner == 0 and pair.flipped
    steady = PairJudgement(ab=Verdict(9, 4, ""), ba=Verdict(3, 8, ""))
    assert (steady.score_a, steady.score_b) == (8.5, 3.5) and steady.winner == 1 and not steady.flipped
    tie_then_win = PairJudgement(ab=Verdict(5, 5, ""), ba=Verdict(6, 5, ""))
    assert tie_then_win.flipped  # a tie in one order and a win in the other is a change
    record = steady.as_dict()
    assert record["order_ab"] == [9, 4] and record["order_ba"] == [8, 3]  # always [a, b]


def test_judge_pair_calls_the_endpoint_in_both_orders(endpoint, teacher):
    a = "Rice is cooked by simmering it in water until the water is absorbed, about 18 minutes."
    b = "No."
    pair = judge_pair(endpoint, question="How do I cook rice in water?", a=a, b=b)
    assert teacher.stats()["completed"] == 2
    prompts = [r.request_payload["messages"][-1]["content"] for r in LLMRequest.objects.order_by("id")]
    assert [JUDGE_REQUEST.search(p).group(2).strip() for p in prompts] == [a, b]  # a first, then b first
    assert {r.purpose for r in LLMRequest.objects.all()} == {"judge"}
    assert pair.score_a > pair.score_b  # the developed, on-topic answer wins in the teacher's heuristic


def test_an_unreadable_reply_is_asked_again_then_reported(endpoint, monkeypatch):
    replies = iter(["Both are fine.", "Score 1: 6\nScore 2: 2\nReason: ok"])

    class Reply:
        def __init__(self, text):
            self.text = text

    monkeypatch.setattr(judge, "call_llm", lambda *a, **k: Reply(next(replies)))
    assert judge.judge_once(endpoint, question="q", first="x", second="y").first == 6
    monkeypatch.setattr(judge, "call_llm", lambda *a, **k: Reply("no scores here"))
    with pytest.raises(JudgeError, match="no Score 1"):
        judge.judge_once(endpoint, question="q", first="x", second="y")


def test_a_failing_judge_endpoint_raises_judge_error(endpoint, teacher):
    teacher.faults(queue=["500"] * 8)
    with pytest.raises(JudgeError, match="judge call failed"):
        judge_pair(endpoint, question="q", a="x", b="y")


def test_the_demo_judge_has_a_position_bias_that_swapping_reveals():
    flips = 0
    for n in range(200):
        question = f"Explain topic number {n} about rivers and the sea."
        a, b = f"Rivers flow to the sea (topic {n}).", "The sea is where rivers end up flowing."  # close in quality
        ab, ba = (parse_verdict(judge_reply(judge_prompt(question, x, y))) for x, y in ((a, b), (b, a)))
        flips += PairJudgement(ab=ab, ba=ba).flipped
        assert judge_reply(judge_prompt(question, a, b)) == judge_reply(judge_prompt(question, a, b))  # stable
    assert 0.1 < flips / 200 < 0.6
