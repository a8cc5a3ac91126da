"""Reading ratings out of a judge's reply: a tolerant parser that reads a number only where the reply
marks it as a rating (:func:`parse_ratings`), and the status of a reply (:func:`reply_status`)."""

from __future__ import annotations

import json
import re
from typing import Any

from codepeft.metrics.judge.prompt import CRITERIA

_LABELS = {
    "CA": r"content[\s_-]*adequacy|adequacy|\bCA\b",
    "Conciseness": r"concise(?:ness)?",
    "Fluency": r"fluency(?:\s*(?:&|and)\s*understandability)?|understandability",
}
_ANY_LABEL = re.compile("|".join(f"(?:{p})" for p in _LABELS.values()), re.IGNORECASE)
_NUMBER = r"(\d+(?:\.\d+)?)"
_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}
# between a label and its rating: a scale in brackets "(1-5)", then ":", "-", "=" or "|", then "[" (as in "[4]")
_LEAD = re.compile(r"\s*(?:\([^()\d]*1\s*(?:-|–|to)\s*5\s*\))?\s*(?:[:=|\-–—]\s*)?(?:\[\s*)?", re.IGNORECASE)
# after a rating given right after its label: the end, punctuation, "/5", "(out) of 5", or a word of the scale
_AFTER_RATING = re.compile(r"\s*(?:$|/\s*5\b|(?:out\s+)?of\s+5\b|[\]().,;!|\-–—\n]|(?:very|good|poor|fair|"
                           r"excellent|points?|stars?)\b)", re.IGNORECASE)
_RANGE = re.compile(r"\s*(?:-|–|to|or)\s*\d", re.IGNORECASE)  # "4-5", "4 or 5": no single rating
# a rating marked as one in a criterion's paragraph: "Rating: n", "Score: n", "n/5", "n out of 5", "Good (n)"
_MARKED = re.compile(r"\b(?:rating|score)\s*[:=\-–]?\s*" + _NUMBER + r"(?![\d/])|(?<![\w./])" + _NUMBER
                     + r"\s*(?:/|out\s+of)\s*5\b|\b(?:very\s+)?(?:poor|fair|good)\s*\(\s*" + _NUMBER + r"\s*\)",
                     re.IGNORECASE)


def as_rating(value: Any) -> int | None:
    """An integer rating 1..5 from a number or a string like '4', '4/5', '4.0', '4 (good)'; else None (also
    for a string where the number starts a rationale, '2 of the 3 branches', or a range, '4-5')."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = re.match(r"\s*[*_`#\s]*" + _NUMBER, value)
        after = value[match.end():] if match else ""
        if not match or _RANGE.match(after) or not _AFTER_RATING.match(after):
            return None
        value = float(match.group(1))
    if isinstance(value, (int, float)) and float(value).is_integer() and 1 <= value <= 5:
        return int(value)
    return None


def _criterion_of_key(key: str) -> str | None:
    key = re.sub(r"[^a-z]", "", key.lower())
    if key.startswith("content") or key in ("adequacy", "ca"):
        return "CA"
    if key.startswith("concise"):
        return "Conciseness"
    if key.startswith(("fluency", "understandab")):
        return "Fluency"
    return None


def _from_mapping(obj: dict[str, Any], depth: int = 0) -> dict[str, int | None]:
    ratings: dict[str, int | None] = dict.fromkeys(CRITERIA)
    for key, value in obj.items():
        criterion = _criterion_of_key(str(key))
        if criterion is None:
            if isinstance(value, dict) and depth == 0:  # {"ratings": {...}}
                ratings.update({k: v for k, v in _from_mapping(value, 1).items() if v is not None})
            continue
        if isinstance(value, dict):
            value = next((value[k] for k in value if str(k).lower() in ("rating", "score", "value")), None)
        ratings[criterion] = as_rating(value)
    return ratings


def _from_json(text: str) -> dict[str, int | None] | None:
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            obj, _ = decoder.raw_decode(text[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            ratings = _from_mapping(obj)
            if any(v is not None for v in ratings.values()):
                return ratings
    return None


def _paragraph(text: str) -> str:
    """``text`` up to its first blank line after some content (a criterion's paragraph)."""
    match = re.search(r"\S.*?(?=\n[ \t]*\n)", text, re.DOTALL)
    return text[:match.end()] if match else text


def _marked_ratings(segment: str) -> tuple[set[str], bool]:
    """The numbers ``segment`` (the text after one label) marks as ratings, and whether it gives a range."""
    rest = segment[_LEAD.match(segment).end():]
    found: set[str] = set()
    ambiguous = False
    direct = re.match(_NUMBER, rest)
    if direct:
        after = rest[direct.end():]
        if _RANGE.match(after):
            ambiguous = True
        elif _AFTER_RATING.match(after):
            found.add(direct.group(1))
    found.update(next(g for g in m.groups() if g) for m in _MARKED.finditer(segment))
    return found, ambiguous


# a rating right before its label, the label being the first on its line: "4/5 Content adequacy", "4 - Fluency",
# "- 3 out of 5: Conciseness", "| 4 | Fluency |" (never a list number: "1. Fluency", "2) Fluency")
_PREFIX = re.compile(r"[ \t]*(?:[-+•|][ \t]*)?" + _NUMBER + r"[ \t]*(?:(?:/|out\s+of)[ \t]*5\b)?[ \t]*"
                     r"(?:[:=|\-–—][ \t]*)?", re.IGNORECASE)
# a label's line that ends with a separator: its rating may come on the next line ("Content adequacy:\n4")
_OPEN_LINE = re.compile(r"[ \t]*(?:\([^()\n]*\))?[ \t]*[:=\-–—][ \t]*\n[ \t]*")


def _label_segments(clean: str, labels: list[re.Match]) -> list[tuple[str, str | None, bool]]:
    """Per label: the text that may hold its rating after it (up to the next label, or to the start of the
    next label's line when that label is on a later line, so a number before a label is never read as the
    previous label's), the rating written right before it on its line, and whether that one is ambiguous."""
    segments = []
    for number, label in enumerate(labels):
        line_start = clean.rfind("\n", 0, label.start()) + 1
        following = labels[number + 1] if number + 1 < len(labels) else None
        end = len(clean)
        if following is not None:
            end = following.start()
            if "\n" in clean[label.end():following.start()]:
                end = clean.rfind("\n", 0, following.start()) + 1
        previous = labels[number - 1] if number else None
        prefix, ambiguous = None, False
        if previous is None or previous.end() <= line_start:
            match = _PREFIX.fullmatch(clean, line_start, label.start())
            if match:
                prefix = match.group(1)
                # "Content adequacy:\n4 - Conciseness": is 4 the rating above or this one?
                ambiguous = previous is not None and bool(_OPEN_LINE.fullmatch(clean, previous.end(), line_start))
        segments.append((clean[label.end():end], prefix, ambiguous))
    return segments


def _from_labels(text: str) -> dict[str, int | None]:
    clean = re.sub(r"[*_`#>]", " ", text)
    for word, digit in _WORDS.items():
        clean = re.sub(rf"\b{word}\b", digit, clean, flags=re.IGNORECASE)
    labels = list(_ANY_LABEL.finditer(clean))
    segments = _label_segments(clean, labels)
    ratings: dict[str, int | None] = dict.fromkeys(CRITERIA)
    for criterion, pattern in _LABELS.items():
        found: set[str] = set()
        ambiguous = False
        for label, (segment, prefix, unclear) in zip(labels, segments):
            if not re.fullmatch(pattern, label.group(0), re.IGNORECASE):
                continue
            values, gives_range = _marked_ratings(_paragraph(segment))
            found |= values | ({prefix} if prefix else set())
            ambiguous |= gives_range or unclear
        values = {as_rating(value) for value in found}
        if len(values) == 1 and not ambiguous:
            ratings[criterion] = values.pop()  # None when the marked number is not a rating 1..5
    return ratings


def parse_ratings(reply: str | None) -> dict[str, int | None]:
    """Ratings for CA, Conciseness and Fluency (criterion order) from a judge's reply; ``None`` where
    the reply marks no rating, or marks several different ones, for a criterion.

    A number is read as a rating only where the reply marks it as one: JSON (also inside a code fence,
    nested as ``{"ratings": {...}}`` or ``{"conciseness": {"score": 4}}``); a number right after the
    label ("Content adequacy: 4", "**Conciseness**: 4/5 - terse", "Content adequacy (1-5): four",
    "Fluency - 3 (Fair)"); "Rating: n", "Score: n", "n/5", "n out of 5" or "Good (n)" in the label's paragraph
    ("# Fluency\\n# Rating: 5"); or a reply that is nothing but three numbers, in criterion order. Numbers
    in a rationale are not ratings: "Content adequacy: the comment covers 2 of the 3 branches, so 3."
    gives ``None`` for CA. Numbers outside 1..5, fractional ratings and ranges ("4-5") give ``None``.
    """
    text = reply or ""
    ratings = _from_json(text)
    if ratings is None or all(v is None for v in ratings.values()):
        ratings = _from_labels(text)
    if all(v is None for v in ratings.values()):
        bare = re.sub(r"[*_`#]", " ", text).replace(",", " ").split()
        if len(bare) == 3 and all(as_rating(token) is not None for token in bare):
            ratings = dict(zip(CRITERIA, (as_rating(token) for token in bare)))
    return ratings


def reply_status(ratings: dict[str, int | None]) -> str:
    """``ok`` (all three criteria rated), ``partial`` (some) or ``unparsable`` (none)."""
    found = sum(v is not None for v in ratings.values())
    return "ok" if found == len(CRITERIA) else "partial" if found else "unparsable"

