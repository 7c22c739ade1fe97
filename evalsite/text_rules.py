"""Which characters text from researchers may hold: the one rule for prompts, study titles, questions, consent text,
instructions and imported ratings, wherever they enter (prompt files, the admin, ``create_study``, the commands).

Refused, because they make text render other than it reads, hide text, or cannot be stored:

- control characters (Unicode category Cc: C0, DEL, C1), NUL included; a multi-line field allows line feed,
  carriage return and tab, and a prompt allows them too (they become spaces when it is normalised);
- format characters (Cf): bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), the
  marks LRM, RLM and ALM, zero-width space, non-joiner and joiner (U+200B–U+200D), word joiner (U+2060),
  U+FEFF, the soft hyphen, tag characters and the rest. Two exceptions keep emoji working: a zero-width joiner
  between two emoji (👩‍💻, 🏳️‍🌈) and the tag characters of a subdivision flag (🏴 England, Scotland, Wales).
  Scripts that use ZWJ or ZWNJ between letters (Persian, Indic) must do without them;
- line and paragraph separators (U+2028, U+2029): a line ends with a line feed;
- private-use characters (Co), which show a vendor's glyph or nothing;
- surrogates (Cs; half a pair, which no UTF-8 encodes) and unassigned code points and noncharacters (Cn), except
  unassigned ones in the emoji blocks (U+1F000–U+1FAFF), where new emoji appear before this Python knows them.

A byte-order mark at the very start of a file is the file's encoding mark: the file readers remove it before any
text is checked, so only a U+FEFF inside the text is refused.
"""

import re
import unicodedata
from dataclasses import dataclass

#: What a multi-line field (consent text, instructions) or a prompt may hold of the control characters.
LINE_CONTROLS = frozenset("\n\r\t")

#: Names for the control characters, which Unicode leaves unnamed (``unicodedata.name`` has none).
_CONTROL_NAMES = {
    **dict(
        enumerate(
            "NULL,START OF HEADING,START OF TEXT,END OF TEXT,END OF TRANSMISSION,ENQUIRY,ACKNOWLEDGE,BELL,BACKSPACE,"
            "CHARACTER TABULATION,LINE FEED,LINE TABULATION,FORM FEED,CARRIAGE RETURN,SHIFT OUT,SHIFT IN,"
            "DATA LINK ESCAPE,DEVICE CONTROL ONE,DEVICE CONTROL TWO,DEVICE CONTROL THREE,DEVICE CONTROL FOUR,"
            "NEGATIVE ACKNOWLEDGE,SYNCHRONOUS IDLE,END OF TRANSMISSION BLOCK,CANCEL,END OF MEDIUM,SUBSTITUTE,ESCAPE,"
            "INFORMATION SEPARATOR FOUR,INFORMATION SEPARATOR THREE,INFORMATION SEPARATOR TWO,"
            "INFORMATION SEPARATOR ONE".split(",")
        )
    ),
    0x7F: "DELETE",
    0x85: "NEXT LINE",
    0x9B: "CONTROL SEQUENCE INTRODUCER",
}

_BIDI = frozenset(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)  # ALM, LRM, RLM, embeddings and overrides, isolates

_EMOJI_BLOCKS = (0x1F000, 0x1FAFF)
#: Pictographs that emoji ZWJ sequences join: the emoji blocks, and the older symbols some sequences use.
_PICTOGRAPHS = (
    _EMOJI_BLOCKS,
    (0x2190, 0x21FF),  # arrows (➡ in "facing right" sequences)
    (0x2300, 0x23FF),  # miscellaneous technical
    (0x2600, 0x27BF),  # miscellaneous symbols, dingbats (♀ ♂ ⚕ ⚖ ✈ ❤)
    (0x2B00, 0x2BFF),  # ⬛ ⭐
)
#: What may sit between a pictograph and a joiner: variation selector 16 and the skin-tone modifiers.
_EMOJI_TAIL = "\ufe0f\U0001f3fb-\U0001f3ff"
_ZWJ_SEQUENCE_TAIL = re.compile(f"[{_EMOJI_TAIL}]*$")
#: A subdivision flag: black flag, tag letters or digits, cancel tag.
_TAG_FLAG = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,7}\U000e007f")


@dataclass(frozen=True)
class BadCharacter:
    """A refused character: its 1-based line and column within the text, and the character."""

    line: int
    column: int
    char: str

    def describe(self) -> str:
        """``U+202E RIGHT-TO-LEFT OVERRIDE (a bidirectional control, which reorders the text shown)``."""
        return f"{character_name(self.char)} ({_why(self.char)})"


def character_name(char: str) -> str:
    """``U+XXXX NAME``: Unicode's name, or the control character's; just ``U+XXXX`` where there is none."""
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(ord(char), "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


def _is_noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _why(char: str) -> str:
    code, category = ord(char), unicodedata.category(char)
    if code in _BIDI:
        return "a bidirectional control, which reorders the text shown"
    return {
        "Cc": "a control character",
        "Cf": "an invisible format character",
        "Zl": "a separator: end a line with a line feed",
        "Zp": "a separator: end a line with a line feed",
        "Co": "a private-use character, shown differently or not at all",
        "Cs": "half of a surrogate pair, which is not valid text",
    }.get(category, "a noncharacter, which no font shows" if _is_noncharacter(code) else "an unassigned code point")


def _refused(char: str, allowed_controls: frozenset[str]) -> bool:
    category = unicodedata.category(char)
    if category == "Cc":
        return char not in allowed_controls
    if category == "Cn":
        return _is_noncharacter(ord(char)) or not _EMOJI_BLOCKS[0] <= ord(char) <= _EMOJI_BLOCKS[1]
    return category in ("Cf", "Co", "Cs", "Zl", "Zp")


def _is_pictograph(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high in _PICTOGRAPHS)


def _joins_emoji(text: str, index: int) -> bool:
    """Whether the zero-width joiner at ``index`` joins two emoji (a pictograph, perhaps with a variation selector or
    skin tone, before it; a pictograph after it)."""
    before = _ZWJ_SEQUENCE_TAIL.sub("", text[:index])
    return bool(before) and _is_pictograph(before[-1]) and index + 1 < len(text) and _is_pictograph(text[index + 1])


def _allowed_spans(text: str) -> set[int]:
    """Indices of format characters that are part of an emoji: joiners between emoji, a subdivision flag's tags."""
    allowed = {index for index, char in enumerate(text) if char == "\u200d" and _joins_emoji(text, index)}
    for flag in _TAG_FLAG.finditer(text):
        allowed.update(range(flag.start() + 1, flag.end()))
    return allowed


def bad_characters(text: str, *, multiline: bool = False) -> list[BadCharacter]:
    """Every refused character of ``text`` (see the module docstring), with its line and column.

    ``multiline``: line feed, carriage return and tab are allowed (a text area, or a prompt, whose whitespace is
    collapsed). Lines are counted at line feeds, and at carriage returns not followed by one.
    """
    allowed_controls = LINE_CONTROLS if multiline else frozenset()
    found: list[BadCharacter] = []
    exempt: set[int] | None = None
    line, start = 1, 0
    for index, char in enumerate(text):
        if _refused(char, allowed_controls):
            if exempt is None:
                exempt = _allowed_spans(text)
            if index not in exempt:
                found.append(BadCharacter(line, index - start + 1, char))
        if char == "\n" or (char == "\r" and text[index + 1 : index + 2] != "\n"):
            line, start = line + 1, index + 1
    return found


def describe_bad_characters(text: str, *, multiline: bool = False, of: str = "", limit: int = 3) -> str | None:
    """The refused characters of ``text`` as one message, or None: "contains U+202E RIGHT-TO-LEFT OVERRIDE (...) at
    character 5", "at line 2, character 5" in a text of several lines ("at line 2 of {of}, character 5" with ``of``
    naming the text); the first ``limit`` are named and the rest counted."""
    found = bad_characters(text, multiline=multiline)
    if not found:
        return None
    several_lines = multiline and any(char in "\n\r" for char in text)
    places = []
    for bad in found[:limit]:
        if several_lines:
            where = f"line {bad.line}{f' of {of}' if of else ''}, character {bad.column}"
        else:
            where = f"character {bad.column}"
        places.append(f"{bad.describe()} at {where}")
    more = f" and {len(found) - limit} more" if len(found) > limit else ""
    return "contains " + "; ".join(places) + more
