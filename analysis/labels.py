"""The names a study's figures and tables give its two conditions and the question annotators answered.

The data keep the conditions ``baseline`` and ``ours``; these are only what a reader sees ("SD-2.1",
"+ entropy scaling"). A study's are the names of its conditions and criterion (on its page in the admin); a run
may put others over them with ``--label NAME=TEXT``.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

#: The labels a study has, each with the longest text it may be.
LABEL_LENGTHS = {"baseline": 60, "ours": 60, "question": 120}


@dataclass(frozen=True)
class Labels:
    """What the figures and tables call the baseline, ours, and the score (the question annotators answered)."""

    baseline: str = "Baseline"
    ours: str = "Ours"
    question: str = "Score"

    @property
    def difference(self) -> str:
        return f"{self.ours} − {self.baseline}"

    def of(self, condition: str) -> str:
        """The label of a condition of the data, ``baseline`` or ``ours``."""
        return {"baseline": self.baseline, "ours": self.ours}[condition]


DEFAULT_LABELS = Labels()


def check_label(name: str, text: str) -> str:
    """``text`` stripped, refused (ValueError) when ``name`` is not a label, or the text is empty or too long."""
    if name not in LABEL_LENGTHS:
        raise ValueError(f"Unknown label {name!r}; the labels are {', '.join(LABEL_LENGTHS)}.")
    text = " ".join(text.split())
    if not text:
        raise ValueError(f'The {name} label is empty; give its text, e.g. {name}="…".')
    if len(text) > LABEL_LENGTHS[name]:
        raise ValueError(f"The {name} label is {len(text)} characters long; at most {LABEL_LENGTHS[name]} are allowed.")
    return text


def labels_with(base: Labels, texts: Mapping[str, str]) -> Labels:
    """``base`` with the labels in ``texts`` (name → text) replaced, each checked; the two conditions must differ."""
    labels = replace(base, **{name: check_label(name, text) for name, text in texts.items()})
    if labels.baseline == labels.ours:
        raise ValueError(f"The baseline and ours labels are both {labels.ours!r}; give them different names.")
    return labels


def parse_label_flags(flags: Iterable[str]) -> dict[str, str]:
    """``NAME=TEXT`` flags (``--label ours="+ entropy scaling"``) as name → text, each checked (ValueError names the
    flag that is wrong: no ``=``, an unknown name, an empty text, a name given twice)."""
    texts: dict[str, str] = {}
    for flag in flags:
        name, equals, text = flag.partition("=")
        name = name.strip()
        if not equals:
            raise ValueError(f"--label {flag!r}: expected NAME=TEXT with NAME one of {', '.join(LABEL_LENGTHS)}.")
        if name in texts:
            raise ValueError(f"--label {flag!r}: the {name} label is given twice.")
        try:
            texts[name] = check_label(name, text)
        except ValueError as exc:
            raise ValueError(f"--label {flag!r}: {exc}") from None
    return texts


def shared_labels(labels: Sequence[Labels]) -> Labels:
    """The labels of a table with one row per study: the studies' own when they all share them, else the
    defaults (``label_notes`` then names each study's)."""
    return labels[0] if labels and all(other == labels[0] for other in labels) else DEFAULT_LABELS


def label_notes(studies: Sequence[str], labels: Sequence[Labels]) -> list[str]:
    """One note per study whose labels a shared table header cannot show."""
    if not labels or all(other == labels[0] for other in labels):
        return []
    return [
        f"{study}: {DEFAULT_LABELS.baseline} is {own.baseline}, {DEFAULT_LABELS.ours} is {own.ours}."
        for study, own in zip(studies, labels, strict=True)
    ]
