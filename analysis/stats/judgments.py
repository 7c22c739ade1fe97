"""Judgments: the tidy ratings folded to one row per (annotator, item) with both scores side by side."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

CONDITIONS = ("baseline", "ours")
REQUIRED_COLUMNS = ("annotator", "item", "condition", "score", "position", "seconds")


@dataclass(frozen=True, eq=False)
class Judgments:
    """Arrays of equal length, one entry per judgment, sorted by annotator then item.

    ``annotator`` and ``item`` are integer codes into ``annotator_labels`` and ``item_labels`` (sorted labels).
    """

    annotator_labels: np.ndarray
    item_labels: np.ndarray
    annotator: np.ndarray
    item: np.ndarray
    baseline: np.ndarray
    ours: np.ndarray
    ours_left: np.ndarray
    seconds: np.ndarray

    @property
    def n(self) -> int:
        return int(self.baseline.size)

    @property
    def n_annotators(self) -> int:
        return int(self.annotator_labels.size)

    @property
    def n_items(self) -> int:
        return int(self.item_labels.size)

    @property
    def difference(self) -> np.ndarray:
        """ours − baseline per judgment."""
        return self.ours - self.baseline


def paired_judgments(frame: pd.DataFrame) -> Judgments:
    """Pair each judgment's baseline and ours rows; refuse a frame that cannot be paired, naming why."""
    missing_columns = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing_columns:
        raise ValueError(f"The ratings lack the column(s) {', '.join(missing_columns)}.")
    if frame.empty:
        raise ValueError("The ratings are empty: no ratings.")
    condition = frame["condition"].to_numpy()
    is_baseline, is_ours = condition == "baseline", condition == "ours"
    missing = [name for name, mask in (("baseline", is_baseline), ("ours", is_ours)) if not mask.any()]
    if missing:
        raise ValueError(f"The ratings have no {' or '.join(missing)} scores.")
    if not (is_baseline | is_ours).all():
        raise ValueError("Conditions must be 'baseline' or 'ours'.")
    annotator_codes, annotator_labels = pd.factorize(frame["annotator"], sort=True)
    item_codes, item_labels = pd.factorize(frame["item"], sort=True)
    key = annotator_codes.astype(np.int64) * len(item_labels) + item_codes
    key_baseline, key_ours = key[is_baseline], key[is_ours]
    order_baseline = np.argsort(key_baseline, kind="stable")
    order_ours = np.argsort(key_ours, kind="stable")
    sorted_keys = key_baseline[order_baseline]
    if key_baseline.size != key_ours.size or not np.array_equal(sorted_keys, key_ours[order_ours]):
        raise ValueError("Every (annotator, item) needs exactly one baseline and one ours score.")
    if sorted_keys.size > 1 and (np.diff(sorted_keys) == 0).any():
        raise ValueError("An annotator rated the same item more than once.")
    score = frame["score"].to_numpy(dtype=float)
    position = frame["position"].to_numpy()
    seconds = frame["seconds"].to_numpy(dtype=float)
    n_items = len(item_labels)
    return Judgments(
        annotator_labels=np.asarray(annotator_labels, dtype=object),
        item_labels=np.asarray(item_labels, dtype=object),
        annotator=(sorted_keys // n_items).astype(np.int64),
        item=(sorted_keys % n_items).astype(np.int64),
        baseline=score[is_baseline][order_baseline],
        ours=score[is_ours][order_ours],
        ours_left=position[is_ours][order_ours] == "left",
        seconds=seconds[is_ours][order_ours],
    )


def subset(judgments: Judgments, mask: np.ndarray) -> Judgments:
    """The judgments where ``mask`` holds, with unused annotators and items dropped from the labels."""
    annotator_used = np.unique(judgments.annotator[mask])
    item_used = np.unique(judgments.item[mask])
    return Judgments(
        annotator_labels=judgments.annotator_labels[annotator_used],
        item_labels=judgments.item_labels[item_used],
        annotator=np.searchsorted(annotator_used, judgments.annotator[mask]),
        item=np.searchsorted(item_used, judgments.item[mask]),
        baseline=judgments.baseline[mask],
        ours=judgments.ours[mask],
        ours_left=judgments.ours_left[mask],
        seconds=judgments.seconds[mask],
    )
