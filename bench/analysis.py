"""Speed and memory of the full analysis report: the paper's 45 × 50 design and 1,000 annotators × 1,000 items.

    python bench/analysis.py                       # both designs
    python bench/analysis.py --designs 45x50       # one

Each design runs in its own process, so its peak RSS is its own. The clock covers everything ``export_results``
computes from the tidy ratings: the study report (descriptives with mixed-model CIs, the crossed mixed model with
Satterthwaite df, robustness tests, the two-way bootstrap with 2,000 resamples, position model, agreement with a
2,000-resample alpha CI and ICC, quality flags), the JSON, Markdown and LaTeX documents, and the three plots as PNG
and SVG. Simulating the ratings is not timed. Targets: 3 s for 45 × 50, 60 s and 2 GiB for 1,000 × 1,000. For
45 × 50 the same primary model is also fitted with statsmodels' MixedLM (dense crossed variance components) as a
reference.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"45x50": (3.0, None), "1000x1000": (60.0, 2.0)}


def measure(annotators: int, items: int, reference: bool) -> dict:
    sys.path.insert(0, str(ROOT))
    from analysis.exports import summaries_json, summaries_latex, summaries_markdown
    from analysis.plots import figure_bytes, study_plots
    from analysis.report import adjust_reports, study_report
    from tests.analysis.simulate import simulate_ratings

    frame = simulate_ratings(annotators=annotators, items=items, seed=1)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    stages = {}
    start = time.perf_counter()
    (report,) = adjust_reports([study_report(frame, study=f"{annotators}x{items}", seed=0)])
    stages["report"] = time.perf_counter() - start
    mark = time.perf_counter()
    documents = [summaries_json([report], [{}]), summaries_markdown([report]), summaries_latex([report])]
    stages["documents"] = time.perf_counter() - mark
    mark = time.perf_counter()
    images = [figure_bytes(figure, fmt) for figure in study_plots(report).values() for fmt in ("png", "svg")]
    stages["plots"] = time.perf_counter() - mark
    total = time.perf_counter() - start
    result = {
        "design": f"{annotators}x{items}",
        "ratings": int(len(frame) // 2),
        "seconds": total,
        "stages": stages,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "rss_before_gib": rss_before,
        "estimate": report.mixed_model.effect.estimate,
        "se": report.mixed_model.effect.se,
        "df": report.mixed_model.effect.df,
        "bytes_written": sum(len(d) for d in documents) + sum(len(i) for i in images),
    }
    if reference:
        import pandas as pd
        import statsmodels.api as sm

        from analysis.judgments import paired_judgments

        judgments = paired_judgments(frame)
        data = pd.DataFrame({"d": judgments.difference, "a": judgments.annotator, "i": judgments.item, "g": 1})
        mark = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.MixedLM.from_formula("d ~ 1", groups="g", vc_formula={"a": "0 + C(a)", "i": "0 + C(i)"},
                                          data=data).fit(reml=True, method="lbfgs")
        result["statsmodels_seconds"] = time.perf_counter() - mark
        result["statsmodels_estimate"] = float(fit.fe_params.iloc[0])
        result["statsmodels_se"] = float(fit.bse_fe.iloc[0])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--designs", nargs="+", default=list(TARGETS), help="AxI, e.g. 45x50 1000x1000")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        annotators, items = (int(v) for v in args.child.split("x"))
        print(json.dumps(measure(annotators, items, reference=args.child == "45x50")))
        return
    for design in args.designs:
        output = subprocess.run([sys.executable, __file__, "--child", design], check=True, capture_output=True,
                                text=True, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        result = json.loads(output.stdout.strip().splitlines()[-1])
        seconds_target, memory_target = TARGETS.get(design, (None, None))
        line = f"{design}: {result['ratings']} ratings, full report {result['seconds']:.2f} s"
        if seconds_target:
            line += f" ({result['seconds'] / seconds_target:.2f} of the {seconds_target:g} s target)"
        line += f", peak RSS {result['peak_rss_gib']:.2f} GiB"
        if memory_target:
            line += f" ({result['peak_rss_gib'] / memory_target:.2f} of the {memory_target:g} GiB target)"
        stages = ", ".join(f"{name} {value:.2f} s" for name, value in result["stages"].items())
        print(line)
        print(f"  stages: {stages}; RSS before the report {result['rss_before_gib']:.2f} GiB; "
              f"estimate {result['estimate']:+.4f} (SE {result['se']:.4f}, df {result['df']:.1f})")
        if "statsmodels_seconds" in result:
            print(f"  statsmodels MixedLM, primary model only: {result['statsmodels_seconds']:.2f} s, estimate "
                  f"{result['statsmodels_estimate']:+.4f} (SE {result['statsmodels_se']:.4f})")


if __name__ == "__main__":
    main()
