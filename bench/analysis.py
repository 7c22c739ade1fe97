"""Speed and memory of the results bundle and of the primary model's fit, against lme4 where R is installed.

    python bench/analysis.py                                        # every bundle design, then every fit design
    python bench/analysis.py --before d5f8781 --rounds 3            # beside an earlier commit's own measurement
    python bench/analysis.py --designs 45x50 --fits 1000x1000@10    # a subset ("" for none)

Each design runs in its own process, so its peak RSS is its own. The clock covers everything ``export_results
--format all`` computes from the tidy ratings, through ``analysis.rendering.render_documents``: the study report
(descriptives with mixed-model CIs, the crossed mixed model with Satterthwaite df, robustness tests, the two-way
bootstrap with 2,000 resamples, position model, agreement with a 2,000-resample alpha CI and ICC, quality flags), and
every document: the ratings as CSV and Parquet with their codebook, JSON, Markdown, both LaTeX tables, the protocol,
the README, and the three figures at both widths as PDF, SVG and 300-dpi PNG. Simulating the ratings is not timed.
Targets: 1.5 s for 45 × 50, 10 s and 1 GiB for 1,000 × 1,000. For 45 × 50 the primary model is also fitted with
statsmodels' MixedLM (dense crossed variance components) as a reference.

``--before REV`` unpacks that commit with ``git archive`` into a temporary folder (the repository is not touched)
and runs its own ``bench/analysis.py --child`` beside this checkout's, alternately (earlier, now, now, earlier, ...)
for ``--rounds`` rounds, so that a slow spell of the shared machine falls on both; printed: each side's median and
spread, and now ÷ earlier. An earlier tree measures what its own code made then (before 2026-12-07: the report, the
JSON, Markdown and LaTeX documents, and three plots as PNG and SVG at one width).

The fit designs time ``fit_crossed`` alone (REML search, Satterthwaite df) on the primary model: 45 × 50 and
1,000 × 1,000 complete, and 1,000 × 1,000 with 10% of cells (each annotator rates about 100 of the 1,000 prompts;
``AxI@P`` keeps P% of cells). Each runs in its own process (peak RSS is the process's), and where ``Rscript`` with
lmerTest is installed the same judgments are fitted by ``lmerTest::lmer`` (REML, Satterthwaite; lme4's defaults)
in its own process (designs up to 200,000 judgments): wall seconds of the fit alone, peak RSS, and the estimate, SE
and df side by side. Targets: 45 × 50 well under 0.1 s, 1,000 × 1,000 complete under 10 s, and at least 4× faster
than lme4 on the incomplete design.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"45x50": (1.5, None), "1000x1000": (10.0, 1.0)}
FIT_TARGETS = {"45x50": 0.1, "1000x1000": 10.0, "1000x1000@10": None}
LME4_LIMIT = 200_000  # judgments: lme4 on the complete 1,000 × 1,000 (10⁶ judgments) takes longer than the bench
LME4 = """
suppressPackageStartupMessages(library(lmerTest))
data <- read.csv(commandArgs(TRUE)[1])
data$annotator <- factor(data$annotator); data$item <- factor(data$item)
seconds <- system.time(fit <- lmer(d ~ 1 + (1 | annotator) + (1 | item), data = data, REML = TRUE))[["elapsed"]]
coefs <- summary(fit)$coefficients
vc <- as.data.frame(VarCorr(fit))
cat(sprintf("%.17g", c(seconds, coefs[1, "Estimate"], coefs[1, "Std. Error"], coefs[1, "df"], vc$vcov)), "\\n")
"""


def measure(annotators: int, items: int, reference: bool) -> dict:
    """The whole bundle of one simulated study, in this process: seconds, the analysis's share, peak RSS."""
    sys.path.insert(0, str(ROOT))
    from analysis.formats import FORMATS
    from analysis.rendering import StudyData, render_documents
    from tests.analysis.simulate import simulate_ratings

    slug = f"{annotators}x{items}"
    frame = simulate_ratings(annotators=annotators, items=items, seed=1)
    frame.insert(0, "study", slug)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    marks = []
    start = time.perf_counter()
    documents = render_documents(
        [StudyData(slug=slug, ratings=frame)],
        formats=FORMATS,
        progress=lambda steps: marks.append(time.perf_counter()),
    )
    total = time.perf_counter() - start
    summary = json.loads(documents["summary.json"])["studies"][0]["mixed_model"]["effect"]
    result = {
        "design": slug,
        "ratings": int(len(frame) // 2),
        "seconds": total,
        "stages": {"report": marks[0] - start, "documents and figures": start + total - marks[0]},
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "rss_before_gib": rss_before,
        "estimate": summary["estimate"],
        "se": summary["se"],
        "df": summary["df"],
        "files": len(documents),
        "bytes_written": sum(len(d if isinstance(d, bytes) else d.encode()) for d in documents.values()),
    }
    if reference:
        import pandas as pd
        import statsmodels.api as sm

        from analysis.stats.judgments import paired_judgments

        judgments = paired_judgments(frame)
        data = pd.DataFrame({"d": judgments.difference, "a": judgments.annotator, "i": judgments.item, "g": 1})
        mark = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.MixedLM.from_formula(
                "d ~ 1", groups="g", vc_formula={"a": "0 + C(a)", "i": "0 + C(i)"}, data=data
            ).fit(reml=True, method="lbfgs")
        result["statsmodels_seconds"] = time.perf_counter() - mark
        result["statsmodels_estimate"] = float(fit.fe_params.iloc[0])
        result["statsmodels_se"] = float(fit.bse_fe.iloc[0])
    return result


def child(tree: Path, design: str) -> dict:
    """``tree``'s own measurement of ``design`` in a process of its own (this checkout's Python environment)."""
    output = subprocess.run(
        [sys.executable, str(tree / "bench" / "analysis.py"), "--child", design],
        check=True,
        capture_output=True,
        text=True,
        cwd=tree,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def spread(values: list[float], unit: str = "s") -> str:
    middle = statistics.median(values)
    return f"{middle:.2f} {unit}" + (f" ({min(values):.2f}–{max(values):.2f})" if len(values) > 1 else "")


def run_designs(designs: list[str], before: str | None, rounds: int) -> None:
    """Each design ``rounds`` times, beside ``before``'s own measurement when given (alternately)."""
    with tempfile.TemporaryDirectory(prefix="evalsite-before-") as folder:
        earlier = None
        if before:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", before], check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
            earlier = Path(folder)
        for design in designs:
            now, then = [], []
            for round_ in range(rounds):
                order = [("now", ROOT), ("before", earlier)] if round_ % 2 else [("before", earlier), ("now", ROOT)]
                for side, tree in order:
                    if tree is not None:
                        (now if side == "now" else then).append(child(tree, design))
            report(design, now, then, before)


def report(design: str, now: list[dict], then: list[dict], before: str | None) -> None:
    seconds = [run["seconds"] for run in now]
    memory = [run["peak_rss_gib"] for run in now]
    seconds_target, memory_target = TARGETS.get(design, (None, None))
    line = f"{design}: {now[0]['ratings']} ratings, {now[0]['files']} files, bundle {spread(seconds)}"
    if seconds_target:
        line += f" ({statistics.median(seconds) / seconds_target:.2f} of the {seconds_target:g} s target)"
    line += f", peak RSS {spread(memory, 'GiB')}"
    if memory_target:
        line += f" ({statistics.median(memory) / memory_target:.2f} of the {memory_target:g} GiB target)"
    print(line)
    stages = ", ".join(
        f"{name} {statistics.median(run['stages'][name] for run in now):.2f} s" for name in now[0]["stages"]
    )
    print(
        f"  stages (medians): {stages}; estimate {now[0]['estimate']:+.4f} (SE {now[0]['se']:.4f}, "
        f"df {now[0]['df']:.1f})"
    )
    if then:
        earlier = [run["seconds"] for run in then]
        stages = ", ".join(
            f"{name} {statistics.median(run['stages'][name] for run in then):.2f} s" for name in then[0]["stages"]
        )
        print(
            f"  {before}: {spread(earlier)}, peak RSS {spread([run['peak_rss_gib'] for run in then], 'GiB')} "
            f"({stages}); now ÷ before {statistics.median(seconds) / statistics.median(earlier):.2f}"
        )
    if "statsmodels_seconds" in now[0]:
        print(
            f"  statsmodels MixedLM, primary model only: {now[0]['statsmodels_seconds']:.2f} s, estimate "
            f"{now[0]['statsmodels_estimate']:+.4f} (SE {now[0]['statsmodels_se']:.4f})"
        )


def parse_fit_design(design: str) -> tuple[int, int, float]:
    size, _, percent = design.partition("@")
    annotators, items = (int(v) for v in size.split("x"))
    return annotators, items, float(percent or 100) / 100


def measure_fit(design: str, csv: str | None) -> dict:
    """The primary model's fit alone, in this process; the judgments go to ``csv`` for lme4 when given."""
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import pandas as pd

    from analysis.stats.judgments import paired_judgments
    from analysis.stats.mixed import CrossedGroups, effect_of, fit_crossed
    from tests.analysis.simulate import simulate_ratings

    annotators, items, fill = parse_fit_design(design)
    judgments = paired_judgments(simulate_ratings(annotators=annotators, items=items, missing=1 - fill, seed=1))
    if csv:
        pd.DataFrame(
            {"annotator": judgments.annotator, "item": judgments.item, "d": judgments.difference.astype(int)}
        ).to_csv(csv, index=False)
    repeats = 5 if judgments.n < 10_000 else 1
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        groups = CrossedGroups(annotator=judgments.annotator, item=judgments.item)
        fit = fit_crossed(y=judgments.difference, annotator=judgments.annotator, item=judgments.item, groups=groups)
        seconds.append(time.perf_counter() - start)
    effect = effect_of(fit)
    return {
        "judgments": judgments.n,
        "seconds": float(np.median(seconds)),
        "spread": [min(seconds), max(seconds)],
        "repeats": repeats,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10,
        "estimate": effect.estimate,
        "se": effect.se,
        "df": effect.df,
        "variance": fit.variance,
        "convergence": fit.convergence,
    }


def lme4_fit(csv: str) -> dict | None:
    """lmerTest's fit of the same judgments in its own process, or None without R and lmerTest."""
    import shutil

    if not shutil.which("Rscript"):
        return None
    output = subprocess.run(
        ["/usr/bin/time", "-f", "peak-kib %M", "Rscript", "-e", LME4, csv], capture_output=True, text=True
    )
    if output.returncode != 0:
        print(f"  (lme4 not run: {output.stderr.strip().splitlines()[-1]})")
        return None
    values = [float(v) for v in output.stdout.split()]
    peak = int(output.stderr.strip().splitlines()[-1].split()[-1])
    return {
        "seconds": values[0],
        "estimate": values[1],
        "se": values[2],
        "df": values[3],
        "variance": values[4:],
        "peak_rss_mib": peak / 2**10,
    }


def run_fits(designs: list[str]) -> None:
    import tempfile

    print("Primary model fit alone (REML search + Satterthwaite df); lme4 = lmerTest::lmer in its own process")
    for design in designs:
        with tempfile.TemporaryDirectory() as folder:
            csv = str(Path(folder) / "judgments.csv")
            output = subprocess.run(
                [sys.executable, __file__, "--fit-child", design, csv],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            ours = json.loads(output.stdout.strip().splitlines()[-1])
            theirs = lme4_fit(csv) if ours["judgments"] <= LME4_LIMIT else None
        line = (
            f"{design}: {ours['judgments']} judgments, fit {ours['seconds']:.3f} s (median of {ours['repeats']}, "
            f"{ours['spread'][0]:.3f}–{ours['spread'][1]:.3f}), peak RSS {ours['peak_rss_mib']:.0f} MiB"
        )
        target = FIT_TARGETS.get(design)
        if target:
            line += f" ({ours['seconds'] / target:.2f} of the {target:g} s target)"
        print(line)
        print(
            f"  EvalSite: estimate {ours['estimate']:+.6f}, SE {ours['se']:.6f}, df {ours['df']:.2f}; "
            f"{ours['convergence']}"
        )
        if theirs:
            print(
                f"  lme4:     estimate {theirs['estimate']:+.6f}, SE {theirs['se']:.6f}, df {theirs['df']:.2f}; "
                f"fit {theirs['seconds']:.2f} s, peak RSS {theirs['peak_rss_mib']:.0f} MiB; EvalSite "
                f"{theirs['seconds'] / ours['seconds']:.1f}× faster"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--designs", nargs="*", default=list(TARGETS), help="AxI, e.g. 45x50 1000x1000")
    parser.add_argument("--fits", nargs="*", default=list(FIT_TARGETS), help="AxI or AxI@P, e.g. 1000x1000@10")
    parser.add_argument("--before", help="an earlier commit to measure beside this checkout, e.g. d5f8781")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each design per side (default 1)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--fit-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit_child:
        print(json.dumps(measure_fit(*args.fit_child)))
        return
    if args.child:
        annotators, items = (int(v) for v in args.child.split("x"))
        print(json.dumps(measure(annotators, items, reference=args.child == "45x50")))
        return
    run_designs(args.designs, args.before, args.rounds)
    run_fits([design for design in args.fits if design])


if __name__ == "__main__":
    main()
