"""Write the reference summary of the seed's design (``data/seed-report.json``): the paired report of a fixed data
set, 45 annotators × 50 prompts with a fifth of the judgments missing, as two studies (exclusions applied and not),
without the software versions. It was made with the code of 145b07d, before studies had several criteria or
conditions; ``test_seed_report.py`` holds today's numbers to it.

    python tests/analysis/reference/seed_report.py > tests/analysis/reference/data/seed-report.json
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.rendering import AnalysisOptions, StudyData, render_documents  # noqa: E402
from tests.analysis.simulate import simulate_ratings  # noqa: E402


def seed_summary() -> dict:
    """summary.json of the fixed data set, less ``software``."""
    frame = simulate_ratings(annotators=45, items=50, effect=0.4, seed=11, missing=0.2)
    frame.insert(0, "study", "seed")
    studies = [
        StudyData(slug="seed", ratings=frame, options=AnalysisOptions(seed=3, bootstrap_resamples=400)),
        StudyData(
            slug="other",
            ratings=frame.assign(study="other"),
            options=AnalysisOptions(seed=4, bootstrap_resamples=300, apply_exclusions=False),
        ),
    ]
    summary = json.loads(render_documents(studies, formats=["json"])["summary.json"])
    summary.pop("software")
    return summary


if __name__ == "__main__":
    json.dump(seed_summary(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
