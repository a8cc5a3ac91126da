"""The judge's prompt: the three criteria, the prompt of each protocol, and the messages sent per summary.

A judge rates each summary for Content adequacy (``CA``), Conciseness and Fluency from 1 to 5 (the criteria
of the study, which follow Crupi et al.'s LLM-as-judge study of code summaries).
"""

from __future__ import annotations

from codepeft.errors import UserError
from codepeft.languages import LANGUAGES
from codepeft.provenance import check_protocol
from codepeft.sourcecode import strip_python_docstring

CRITERIA = ("CA", "Conciseness", "Fluency")  # CSV column names
LANGUAGE_NAMES = {name: LANGUAGES[name].display for name in ("java", "python")}  # the languages judged, as shown

PROMPT = """You will be given a {language} function ("Function") and a natural-language summary of it ("Comment"). \
The Comment was written to document the functionality implemented in the Function. Rate the Comment on each of \
the following three criteria, on a scale from 1 to 5.

* Content adequacy: how completely the Comment conveys the information about the Function's behaviour that \
can be inferred from its source code.
* Conciseness: how free the Comment is of unnecessary information.
* Fluency: how easy the Comment is to read and understand.

Scale: 1 = very poor, 2 = poor, 3 = fair, 4 = good, 5 = very good.

Answer with exactly these three lines and no other text:
Content adequacy: <rating>
Conciseness: <rating>
Fluency: <rating>

# Function
{code}

# Comment
{summary}"""

# the study's prompt, word for word (study-code summarization/codereval/evaluate_summarization_llm_judge.py)
STUDY_PROMPT = """You will be provided with a {language} function ("Function") and a textual summary of it ("Comment"). The goal of the Comment is to document the functionality implemented in the Function. Your role is to evaluate the Comment across three criteria, providing as output for each of them a rating and a rationale as described in the following.

# Evaluation Criteria
* Content adequacy: the extent to which the comment summarizes all information that can be inferred from the source code.

* Conciseness: the extent to which the comment contains unnecessary information.

* Fluency: the extent to which the comment is easy to understand.

For each criterion, provide a score on a scale from 1 to 5:

1. Very poor
2. Poor
3. Fair
4. Good
5. Very good

# Function
{code}

# Comment
{summary}

Please provide your ratings in this exact format:
Content adequacy: [score]
Conciseness: [score]
Fluency: [score]"""
STUDY_MIN_SUMMARY = 3  # the study did not judge summaries shorter than 3 characters (after strip)


def judge_messages(code: str, summary: str, language: str, protocol: str = "default") -> list[dict[str, str]]:
    """The chat messages sent to the judge for one summary.

    ``default``: :data:`PROMPT`, with a Python function's docstring removed first (CoderEval's Python code
    carries it, and it is the reference summary): the judge sees the code as the summarising model saw it.
    ``study``: the study's prompt (:data:`STUDY_PROMPT`) with the code and the summary as given.
    """
    name = LANGUAGE_NAMES.get(language.lower())
    if name is None:
        raise UserError(f"--language {language!r}: valid values are {', '.join(LANGUAGE_NAMES)}")
    if check_protocol(protocol) == "study":
        return [{"role": "user", "content": STUDY_PROMPT.format(language=name, code=code, summary=summary)}]
    if name == "Python":
        code = strip_python_docstring(code)
    return [{"role": "user", "content": PROMPT.format(language=name, code=code.strip("\n"), summary=summary.strip())}]



def prompt_text(protocol: str) -> str:
    """The prompt template of ``protocol`` (its hash goes into the outputs' provenance)."""
    return STUDY_PROMPT if protocol == "study" else PROMPT
