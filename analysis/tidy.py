"""The tidy ratings as a pandas DataFrame: one row per image rating."""
import pandas as pd

from annotations.models import Study
from annotations.selectors import TIDY_COLUMNS, tidy_rows


def ratings_frame(*, study: Study) -> pd.DataFrame:
    """Columns ``TIDY_COLUMNS``; score is an integer, seconds a float (NaN when unknown)."""
    frame = pd.DataFrame.from_records(list(tidy_rows(study=study)), columns=list(TIDY_COLUMNS))
    frame["score"] = frame["score"].astype("int64")
    frame["seconds"] = frame["seconds"].astype("float64")
    return frame
