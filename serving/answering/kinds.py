"""What kind of answer a question wants: a value, a part, steps, a warning, an interval or an
explanation. The kind decides how the selected lines are composed, and which lines a
selector prefers (a parts-list row for a part question, a warning for a safety question).
The names are the eval's ``answer_type`` values."""

from __future__ import annotations

import re
from typing import Literal

from maint.identifiers import asks_for_identifier
from retrieval.query import asked_units

QuestionKind = Literal["spec", "part_number", "procedure", "safety", "interval", "explanation"]

_PART = re.compile(
    r"\b(?:part|parts|nsn|p/n|kit|stock number)\b|\bwhich\b.+\b(?:uses?|fitted|goes? on)\b",
    re.I,
)
_PROCEDURE = re.compile(
    r"\bhow (?:do|should|can|would) (?:i|we|you)\b(?! tell)|\bwalk me through\b|\bsteps?\b"
    r"|\bprocedure\b|\bwhat(?:'s| is) the (?:\w+ )?order\b|\bdescribe how\b"
    r"|\bhow (?:is|are) .+ (?:done|checked|tested|fitted|adjusted|installed|removed|replaced"
    r"|fixed|set|bled)\b",
    re.I,
)
_SAFETY = re.compile(
    r"\b(?:safe|safety(?! valve)|warning|danger|hazard|precaution|never|ok to|okay to"
    r"|is it ok|may i|can i (?:just )?(?:use|run|pull|open)|make sure)\b"
    r"|\bwhat must (?:i|be) \w+ before\b|\bbefore (?:working|opening)\b",
    re.I,
)
_INTERVAL = re.compile(
    r"\bhow often\b|\binterval\b|\bwhen (?:do|does|is|should|must)\b|\bdeadline\b"
    r"|\bevery\b|\bhow long between\b",
    re.I,
)
_EXPLANATION = re.compile(
    r"\bwhy\b|\bwhat does .+ mean\b|\bpoint of\b|\bpurpose\b|\bexplain\b|\bhow do i tell\b"
    r"|\bis something wrong\b",
    re.I,
)


def question_kind(question: str) -> QuestionKind:
    if _EXPLANATION.search(question):
        return "explanation"
    if asks_for_identifier(question):
        return "part_number"
    # 'Which kit ...' asks for a part; 'the shelf life of the epoxy in kit 104276-1' for a value.
    if _PART.search(question) and not asked_units(question):
        return "part_number"
    if _INTERVAL.search(question):
        return "interval"
    if _PROCEDURE.search(question):
        return "procedure"
    if _SAFETY.search(question):
        return "safety"
    return "spec"
