"""Deterministic teacher answers for the simulator.

The same (prompt, sample index, seed) always gives the same answer, so a cached re-run and a fresh
run agree byte for byte. A prompt that contains a bundled task's prompt gets an answer the real
graders can judge: right with probability p_correct, otherwise wrong in the ways real teachers are
wrong (an off-by-small answer, a hard-coded program that passes only the visible test, a merge that
keeps one side or leaves the markers in).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

from distill.paths import example_task_files
from distill.records import Task, read_tasks

SUBSTRING_SCAN_MAX_TASKS = 2000
_MATCH_CACHE_MAX = 4096


class Answer(NamedTuple):
    reasoning: str
    content: str
    correct: bool


def text_of(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type", "text") == "text"
        )
    return ""


def task_prompt(task: Task) -> str:
    if task.prompt:
        return task.prompt.strip()
    for message in reversed(task.messages or []):
        if message.get("role") == "user":
            return text_of(message.get("content")).strip()
    return ""


class TaskIndex:
    """Find the bundled task a prompt was built from."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self._exact: dict[str, Task] = {}
        for task in tasks:
            prompt = task_prompt(task)
            if prompt:
                self._exact.setdefault(prompt, task)
        # Longest first so a task whose prompt contains another's wins.
        self._scan = (
            sorted(self._exact.items(), key=lambda kv: -len(kv[0]))
            if len(self._exact) <= SUBSTRING_SCAN_MAX_TASKS
            else []
        )
        self._cache: dict[str, Task | None] = {}

    @classmethod
    def load(cls, files: Sequence[str | Path] = ()) -> TaskIndex:
        return cls(read_tasks(files or example_task_files()))

    def __len__(self) -> int:
        return len(self._exact)

    def match(self, text: str) -> Task | None:
        stripped = text.strip()
        task = self._exact.get(stripped)
        if task is not None or not self._scan:
            return task
        if stripped in self._cache:
            return self._cache[stripped]
        found = next((t for prompt, t in self._scan if prompt in stripped), None)
        if len(self._cache) >= _MATCH_CACHE_MAX:
            self._cache.clear()
        self._cache[stripped] = found
        return found


def answer_rng(prompt_text: str, sample_index: int, seed: int) -> random.Random:
    digest = hashlib.blake2b(
        f"{seed}|{sample_index}|{prompt_text}".encode(), digest_size=16
    ).digest()
    return random.Random(int.from_bytes(digest, "big"))


def generate_answer(
    prompt_text: str, task: Task | None, sample_index: int, seed: int, p_correct: float
) -> Answer:
    rng = answer_rng(prompt_text, sample_index, seed)
    correct = rng.random() < p_correct
    kind = task.kind if task is not None else ""
    if task is None or kind not in _BUILDERS:  # chat, unknown kinds, unmatched prompts
        output = task.reference.get("output") if task is not None else None
        content = output if isinstance(output, str) and output else _generic(prompt_text)
        return Answer(_reasoning(rng, prompt_text, "chat", True, ""), content, True)
    content, hint = _BUILDERS[kind](rng, task, correct)
    return Answer(_reasoning(rng, task_prompt(task), kind, correct, hint), content, correct)


# --- math -------------------------------------------------------------------------------------

_INT = re.compile(r"-?\d+")
_FRACTION = re.compile(r"(-?\d+)/(\d+)")
_TEX_FRACTION = re.compile(r"(-?)\\[dt]?frac\{(-?\d+)\}\{(\d+)\}")


def wrong_math_answer(answer: str, rng: random.Random) -> str:
    """A nearby value that is not the answer."""
    delta = rng.randint(1, 3) * rng.choice((-1, 1))
    text = answer.strip()
    if _INT.fullmatch(text):
        return str(int(text) + delta)
    if m := _FRACTION.fullmatch(text):
        return f"{int(m.group(1)) + delta}/{m.group(2)}"
    if m := _TEX_FRACTION.fullmatch(text):
        return f"{m.group(1)}\\frac{{{int(m.group(2)) + delta}}}{{{m.group(3)}}}"
    try:
        value = Decimal(text)
    except InvalidOperation:
        return f"{text}+1"
    if not value.is_finite():
        return f"{text}+1"
    exponent = value.as_tuple().exponent
    step = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    return str(value + step * delta)


def _math(rng: random.Random, task: Task, correct: bool) -> tuple[str, str]:
    answer = str(task.reference.get("answer", "")).strip() or "0"
    value = answer if correct else wrong_math_answer(answer, rng)
    lead = rng.choice(("Working through the steps above,", "Putting it together,", "Therefore,"))
    content = f"{lead} the result is {value}.\n\nThe final answer is \\boxed{{{value}}}."
    return content, f"the result works out to {value}"


# --- code -------------------------------------------------------------------------------------


def _code(rng: random.Random, task: Task, correct: bool) -> tuple[str, str]:
    tests = task.reference.get("tests") or {}
    public = [t for t in tests.get("public", []) if isinstance(t, dict)]
    hidden = [t for t in tests.get("hidden", []) if isinstance(t, dict)]
    solution = task.reference.get("solution")
    if correct and isinstance(solution, str) and solution.strip():
        program, hint = solution, "read the input and compute the answer directly"
    elif public and rng.random() < 0.5:
        expected = str(public[0].get("output", ""))
        program = f"import sys\n\nsys.stdin.read()\nsys.stdout.write({expected!r})"
        hint = "make sure the sample output is produced exactly"
    else:
        outputs = {str(t.get("output", "")).strip() for t in public + hidden}
        wrong = next(str(k) for k in range(-1, -100, -1) if str(k) not in outputs)
        # Reads the input, but the loop bound is off so it prints its start value.
        program = (
            "import sys\n\n\ndef main() -> None:\n    data = sys.stdin.read().split()\n"
            f"    answer = {wrong}\n    for _ in range(len(data), len(data)):\n"
            "        answer += 1\n    print(answer)\n\n\nmain()"
        )
        hint = "count the items in one loop over the input"
    sentence = rng.choice(
        (
            "Here is my solution.",
            "The program below solves it.",
            "This reads standard input and prints the answer.",
        )
    )
    return f"{sentence}\n\n{_fence('python', program)}", hint


# --- merge ------------------------------------------------------------------------------------


def ours_only(conflict: str) -> str:
    """Resolve every conflict hunk by keeping our side (a typical wrong resolution)."""
    out: list[str] = []
    state = "outside"
    for line in conflict.splitlines():
        if line.startswith("<<<<<<<"):
            state = "ours"
        elif line.startswith("|||||||") and state == "ours":
            state = "base"
        elif line.startswith("=======") and state in ("ours", "base"):
            state = "theirs"
        elif line.startswith(">>>>>>>") and state == "theirs":
            state = "outside"
        elif state in ("outside", "ours"):
            out.append(line)
    return "\n".join(out)


def _merge(rng: random.Random, task: Task, correct: bool) -> tuple[str, str]:
    ref = task.reference
    language = str(ref.get("language") or task.meta.get("language") or "")
    conflict = str(ref.get("conflict") or task.prompt or "")
    if correct:
        body, hint = str(ref.get("resolution", "")), "keep both intents"
    elif (
        rng.random() < 0.5
        and (ours := ours_only(conflict)).strip() != str(ref.get("resolution", "")).strip()
    ):  # when ours is the right answer, leave markers
        body, hint = ours, "our side already covers it"
    else:
        body, hint = conflict, "the file is already fine"
    return f"Here is the resolved file.\n\n{_fence(language, body)}", hint


def _fence(language: str, body: str) -> str:
    """One fenced block holding `body` byte for byte (its own trailing newline kept)."""
    return f"```{language}\n{body if body.endswith(chr(10)) else body + chr(10)}```"


_BUILDERS = {"math": _math, "code": _code, "merge": _merge}

# --- prose ------------------------------------------------------------------------------------


def _snippet(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rstrip() + "…"


def _generic(prompt_text: str) -> str:
    return (
        f'You asked: "{_snippet(prompt_text)}". The short answer is that it depends on the '
        "details, but the usual approach works well here. Start from the simplest case, check it, "
        "and then extend it step by step. If anything is unclear, ask and I will go deeper."
    )


_STEPS = {
    "math": (
        "First I will restate what is given and what is asked.",
        "It helps to name the unknown quantity and write the condition as an equation.",
        "Let me simplify the expression before substituting any numbers.",
        "I should be careful with signs here, since that is where slips usually happen.",
        "Checking a small case by hand gives a value consistent with the pattern.",
        "The constraint rules out the negative branch, so only one candidate is left.",
        "Now I can substitute back and compute the remaining terms one at a time.",
        "Multiplying out and collecting like terms gives a cleaner form.",
    ),
    "code": (
        "First I will pin down the input format and the expected output.",
        "The constraints are small enough that a direct approach should fit the time limit.",
        "Let me trace the sample input through the idea to make sure it matches.",
        "Edge cases matter: an empty collection, a single element, repeated values.",
        "I will read everything from standard input at once and split it into tokens.",
        "A dictionary keeps the lookups constant time, which keeps the whole thing linear.",
        "Printing with a single write at the end avoids slow output.",
        "The off-by-one risk is in the loop bounds, so I will check them against the sample.",
    ),
    "merge": (
        "Both branches edited the same region, so git could not combine them on its own.",
        "Let me compare our side with the common ancestor to see what we changed.",
        "Now the same for their side: what did they change relative to the base?",
        "If the two edits touch different concerns, the right resolution keeps both.",
        "I must not leave any conflict markers in the result.",
        "The surrounding code constrains the order of the statements.",
        "Names introduced on one side must still be defined in the merged version.",
        "Indentation and style should follow the rest of the file.",
    ),
    "chat": (
        "Let me think about what the user actually needs here.",
        "A short, direct answer is better than a long survey of options.",
        "It is worth mentioning the most common pitfall as well.",
        "An example would make the explanation concrete.",
        "I should keep the tone friendly and the structure easy to scan.",
        "There may be more than one reasonable reading of the question.",
        "I will start with the main point and add details after it.",
        "Finally I will check that the answer actually addresses the question asked.",
    ),
}
_SHARED = (
    "Let me double-check the previous step before moving on.",
    "Wait, let me re-read the statement to be sure I did not miss a condition.",
    "That looks consistent with everything so far.",
    "Hmm, one more pass over the details to be safe.",
    "I will write down the intermediate result so I do not lose track of it.",
    "Is there a simpler way to see this? Possibly, but the direct route is fine here.",
    "Let me consider whether any special case breaks this reasoning.",
    "Okay, nothing in the statement contradicts that.",
    "I should keep the final answer in exactly the form that was asked for.",
    "Going back over it once more, each step follows from the one before.",
    "Actually, let me slow down and verify the part I was least sure about.",
    "Good, the check agrees with what I had.",
)


_OPENERS = (
    "Let me read the problem carefully",
    "The task is",
    "Okay, so the question is",
    "I need to work out this problem",
)
_WORDS = {s: len(s.split()) for pool in (*_STEPS.values(), _SHARED) for s in pool}


def _reasoning(rng: random.Random, prompt: str, kind: str, correct: bool, hint: str) -> str:
    """A plausible 100–300 word thinking trace that mentions the problem.

    Built from one draw of random bits (rotations and an interleave pattern rather than
    shuffles): this runs once per simulated request and dominated the simulator's CPU time.
    """
    bits = rng.getrandbits(64)
    target = 110 + bits % 121
    snippet = _snippet(prompt, 80)
    sentences = [f'{_OPENERS[(bits >> 8) % len(_OPENERS)]}: "{snippet}".']
    steps, shared = _STEPS.get(kind, _STEPS["chat"]), _SHARED
    i, j = (bits >> 12) % len(steps), (bits >> 16) % len(shared)
    used_steps = used_shared = 0
    words = len(sentences[0].split())
    for n in range(len(steps) + len(shared)):
        if words >= target:
            break
        # Mostly task-specific steps, with a check now and then, each used once.
        if used_steps < len(steps) and (used_shared >= len(shared) or (bits >> (20 + n)) & 3):
            sentence = steps[(i + used_steps) % len(steps)]
            used_steps += 1
        else:
            sentence = shared[(j + used_shared) % len(shared)]
            used_shared += 1
        sentences.append(sentence)
        words += _WORDS[sentence]
    if hint:
        sentences.append(f"So my approach: {hint}.")
    sentences.append("That should be right." if correct else "I am fairly confident in this.")
    return " ".join(sentences)
