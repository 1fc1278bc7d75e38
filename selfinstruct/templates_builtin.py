"""The three built-in prompt templates, written for this project, following each method's structure.

Placeholders: {{demos}} (the numbered demonstrations), {{num_tasks}}, {{next_number}}, {{last_number}},
{{topic}} (the template's topic line, or nothing), {{language_name}} / {{language_name_zh}}.
"""

SELF_INSTRUCT = """\
We are collecting tasks that people ask a helpful AI assistant to do. Below is a numbered list of such tasks. \
Continue the list with new tasks, up to number {{last_number}}.
- Write each task in {{language_name}}, as one or two sentences that ask for something.
- Make the tasks different from each other and from the list: vary the verb, the subject and the kind of work \
(questions, explanations, rewriting, classification, planning, reasoning, short writing).
- Every task must be doable by a text-only assistant: nothing that needs pictures, sound, files, links or browsing.
{{topic}}
{{demos}}
{{next_number}}."""

ALPACA = """\
Please write {{num_tasks}} varied tasks that could be used to teach an assistant to follow instructions.
Rules:
1. Use a different verb in each instruction, and mix the kinds of task: open questions, classification, editing, \
brainstorming, reasoning, code, short writing, advice.
2. Write the instructions in {{language_name}}: one or two sentences each, as a command or a question.
3. Each task must be possible for a text-only model. Leave out anything about images, audio, video, files, links \
or doing things in the physical world.
4. Add an input only when the task needs one: a concrete, realistic example of at most 100 words. Otherwise \
write <noinput> as the input.
5. The output is a good answer to the instruction and input, in at most 100 words.
{{topic}}
Write every task in this form:
###
N. Instruction: ...
N. Input:
...
N. Output:
...

List of {{num_tasks}} tasks:
{{demos}}
###"""

BELLE = """\
请为训练一个中文智能助手编写{{num_tasks}}个各不相同的任务。要求：
1. 每条指令尽量换一个动词，任务类型和语气要多样：\
开放式问答、头脑风暴、改写、信息抽取、分类、摘要、写作、封闭式问答等都可以。
2. 指令用{{language_name_zh}}书写，每条一到两句话，可以是祈使句，也可以是问句。
3. 任务必须是纯文本模型能完成的：不要涉及图片、音频、视频、链接，也不要要求在现实中做事。
4. 需要输入的任务给出一段具体、真实的输入（不超过100字）；不需要输入时写“<无输入>”。
5. 输出是对指令和输入的高质量回答，不超过150字。
{{topic}}
每个任务的格式如下：
###
序号. 指令：……
序号. 输入：
……
序号. 输出：
……

{{num_tasks}}个任务的列表：
{{demos}}
###"""

EVOL_INSTRUCT = """\
{{operation_text}}"""

BUILTINS = {
    "self-instruct": {
        "method": "self-instruct",
        "body": SELF_INSTRUCT,
        "topic_line": "- Every new task should be about this topic: {topic}",
        "num_demos": 8,
        "num_machine_demos": 2,
        "num_tasks": 8,
    },
    "alpaca": {
        "method": "alpaca",
        "body": ALPACA,
        "topic_line": "6. Every task should be about this topic: {topic}",
        "num_demos": 3,
        "num_machine_demos": 0,
        "num_tasks": 20,
    },
    "belle": {
        "method": "belle",
        "body": BELLE,
        "topic_line": "6. 所有任务都围绕这个主题：{topic}",
        "num_demos": 3,
        "num_machine_demos": 0,
        "num_tasks": 10,
    },
    # One parent from the pool and one operation per request (selfinstruct/evolution.py holds the operations'
    # wording in English and Chinese); the body may add a project's own header around {{operation_text}}.
    "evol-instruct": {
        "method": "evol-instruct",
        "body": EVOL_INSTRUCT,
        "topic_line": "",
        "num_demos": 1,
        "num_machine_demos": 0,
        "num_tasks": 1,
    },
}

# Decoding defaults per method (FIELD_NOTES): Self-Instruct 0.7 / top_p 0.5 / presence 2 / 1024 tokens;
# Alpaca and BELLE 1.0 / 1.0 / 3072 tokens. Stop sequences are added per request from the numbering.
DEFAULT_PARAMS = {
    "self-instruct": {"temperature": 0.7, "top_p": 0.5, "presence_penalty": 2.0, "max_tokens": 1024},
    "alpaca": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 3072},
    "belle": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 3072},
    "evol-instruct": {"temperature": 0.7, "top_p": 1.0, "max_tokens": 512},
}

# --- Self-Instruct's second stage (our own wording) -------------------------------------------------------------
# 1. Is the task a classification task (a choice among a small, fixed set of labels)? Few-shot, temperature 0.
# 2. Instances: output-first for classification tasks (label, then an input for it), input-first otherwise.

CLASSIFY_EXAMPLES = {
    "en": [
        ("Given a movie review, say whether the reviewer liked the film.", "Yes"),
        ("Write a short poem about autumn leaves.", "No"),
        ("Which of these animals is a mammal: shark, dolphin, trout?", "Yes"),
        ("Explain how a rainbow forms after rain.", "No"),
        ("Decide if the email below is urgent or can wait.", "Yes"),
        ("Suggest three names for a bakery.", "No"),
    ],
    "zh": [
        ("判断这条影评的作者是否喜欢这部电影。", "是"),
        ("写一首关于秋天落叶的小诗。", "否"),
        ("下面哪种动物是哺乳动物：鲨鱼、海豚、鳟鱼？", "是"),
        ("解释雨后彩虹是怎样形成的。", "否"),
        ("判断下面这封邮件是紧急的还是可以稍后处理。", "是"),
        ("为一家面包店起三个名字。", "否"),
    ],
}

CLASSIFY_HEADER = {
    "en": "For each task, answer Yes if it is a classification task — its answer is one label from a small, fixed "
    "set (yes/no, positive/negative, a category) — and No otherwise.",
    "zh": "判断每个任务是不是分类任务：如果答案是从一小组固定标签中选一个（是/否、正面/负面、某个类别），回答“是”，否则回答“否”。",
}
CLASSIFY_LABELS = {"en": ("Task", "Classification"), "zh": ("任务", "是否分类任务")}

INPUT_FIRST_HEADER = {
    "en": "Write examples for the task below, as many as make sense up to five. For each, give the input the task "
    "needs after 'Input:' (leave it empty if the task needs none) and a good answer after 'Output:'.",
    "zh": "为下面的任务写几个示例（最多五个）。每个示例在“输入：”后给出任务需要的输入（不需要输入就留空），在“输出：”后给出高质量的回答。",
}
OUTPUT_FIRST_HEADER = {
    "en": "The task below is a classification task. First list its possible class labels; then, for each label, "
    "write 'Class label:' with the label and an 'Input:' whose correct answer is that label.",
    "zh": "下面的任务是分类任务。先想好它可能的类别标签；然后对每个标签，写出“类别：”和一个正确答案就是该标签的“输入：”。",
}
INSTANCE_WORDS = {
    "en": {"task": "Task", "example": "Example", "input": "Input", "output": "Output", "label": "Class label"},
    "zh": {"task": "任务", "example": "示例", "input": "输入", "output": "输出", "label": "类别"},
}
STAGE_TWO_PARAMS = {
    "classify": {"temperature": 0.0, "max_tokens": 5},
    "instances": {"temperature": 0.0, "top_p": 0.0, "max_tokens": 512},
}
