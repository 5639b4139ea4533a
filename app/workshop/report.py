"""The teacher's dashboard numbers, computed from a class's attempts (pure Python, no database, no Streamlit).

Per exercise: how many of the students still in the class answered it, how many got it right
(completion), attempts, median time to the first correct answer, hints opened, and the most common
wrong answers (compared after trimming, collapsing spaces and ignoring case, so "L1H7" and " l1h7"
count as one).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass(frozen=True)
class Attempt:
    student_id: int
    student: str
    wid: str
    exercise: str
    answer: str
    correct: bool
    hints: int
    seconds: float
    at: float


@dataclass(frozen=True)
class ExerciseStats:
    wid: str
    exercise: str
    answered: int  # students still in the class with at least one attempt
    correct: int  # ... with at least one correct attempt
    attempts: int
    median_seconds: float | None  # to each student's first correct answer
    hints: int  # most hints any one student had open, summed over students
    wrong: list[tuple[str, int]] = field(default_factory=list)  # most common wrong answers, with counts


@dataclass(frozen=True)
class Dashboard:
    students: dict[int, str]  # everyone who joined, by id
    present: list[int]  # those who have not left
    exercises: list[ExerciseStats]
    attempts: list[Attempt]

    @property
    def n_present(self) -> int:
        return len(self.present)


def normalise_answer(answer: str) -> str:
    return " ".join((answer or "").split()).casefold()


def summarise(rows: list[Attempt], students: dict[int, str], present: list[int], top_wrong: int = 3) -> Dashboard:
    here = set(present)
    by_ex: dict[tuple[str, str], list[Attempt]] = defaultdict(list)
    for a in rows:
        by_ex[(a.wid, a.exercise)].append(a)
    stats = []
    for (wid, ex), items in sorted(by_ex.items()):
        answered = {a.student_id for a in items} & here
        first_ok: dict[int, float] = {}
        hints: dict[int, int] = {}
        for a in items:  # oldest first
            hints[a.student_id] = max(hints.get(a.student_id, 0), a.hints)
            if a.correct and a.student_id not in first_ok:
                first_ok[a.student_id] = a.seconds
        correct = set(first_ok) & here
        wrong = Counter(normalise_answer(a.answer) for a in items if not a.correct and a.answer.strip())
        stats.append(ExerciseStats(
            wid, ex, len(answered), len(correct), len(items),
            statistics.median(first_ok[s] for s in correct) if correct else None,
            sum(hints.values()), wrong.most_common(top_wrong)))
    return Dashboard(dict(students), list(present), stats, list(rows))


def _cell(value) -> str:
    """Spreadsheet-safe text: a leading = + - @ (or tab/CR) would make Excel or Sheets run a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: list[Attempt]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["time_utc", "student", "walkthrough", "exercise", "answer", "correct", "hints", "seconds"])
    for a in rows:
        when = datetime.fromtimestamp(a.at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        w.writerow([when, _cell(a.student), a.wid, a.exercise, _cell(a.answer), int(a.correct), a.hints,
                    f"{a.seconds:.1f}"])
    return buf.getvalue()
