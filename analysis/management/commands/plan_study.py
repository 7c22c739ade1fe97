import argparse

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from analysis.planning import plan_conditions, plan_from_pilot, plan_pairwise
from analysis.stats.conditions import ADJUSTMENTS

#: The flags each design takes besides --design, --alpha and --power.
DESIGN_FLAGS = {
    "difference": {"pilot", "effect", "annotators", "items", "max_annotators", "max_items"},
    "conditions": {
        "pilot",
        "means",
        "sd_annotator",
        "sd_item",
        "sd_residual",
        "annotators",
        "items",
        "items_per_annotator",
        "contrast",
        "adjust",
        "simulations",
        "seed",
        "slope_sd_annotator",
        "slope_sd_item",
        "analysis",
    },
    "pairwise": {
        "strengths",
        "tie_rate",
        "sd_annotator",
        "sd_item",
        "annotators",
        "items",
        "pairs_per_annotator",
        "contrast",
        "adjust",
        "simulations",
        "seed",
    },
}


def counts(text: str) -> list[int]:
    """``20`` or ``10,20,40``: one count or a grid of them."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas; got {text!r}") from None


class Command(BaseCommand):
    help = (
        "Power planning. --design difference (default): power of a fully crossed design (A annotators × I items) "
        "for an effect in score points, from a pilot study's variance components; the smallest design reaching the "
        "target power; and what caps the power. --design conditions: simulated power of a K-condition rating "
        "design for the smallest contrast of interest. --design pairwise: simulated power of a pairwise-preference "
        "design."
    )

    def add_arguments(self, parser):
        parser.add_argument("--design", choices=tuple(DESIGN_FLAGS), default="difference")
        parser.add_argument("--pilot", "--study", metavar="STUDY", help="slug of the pilot study")
        parser.add_argument("--effect", type=float, help="difference: ours − baseline to detect, in score points")
        parser.add_argument(
            "--annotators", type=counts, help="planned annotators (conditions, pairwise: a comma-separated grid)"
        )
        parser.add_argument("--items", type=counts, help="planned items or prompts (conditions, pairwise: a grid)")
        parser.add_argument("--alpha", type=float, default=0.05)
        parser.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
        parser.add_argument("--max-annotators", type=int, help="difference: search limit (default 1000)")
        parser.add_argument("--max-items", type=int, help="difference: search limit (default 1000)")
        parser.add_argument("--means", help="conditions: NAME=MEAN,… (the first the reference)")
        parser.add_argument("--strengths", help="pairwise: NAME=LOG_STRENGTH,…")
        parser.add_argument("--sd-annotator", type=float, help="SD of the annotator deviations")
        parser.add_argument("--sd-item", type=float, help="SD of the item deviations")
        parser.add_argument("--sd-residual", type=float, help="conditions: residual SD of a score")
        parser.add_argument("--items-per-annotator", type=int, help="conditions: items each annotator scores")
        parser.add_argument("--pairs-per-annotator", type=int, help="pairwise: pairs each annotator judges")
        parser.add_argument("--tie-rate", type=float, help="pairwise: share of ties between equal conditions")
        parser.add_argument("--contrast", metavar="A,B", help="the contrast of interest (default: the smallest)")
        parser.add_argument("--adjust", help="p adjustment across contrasts: holm (default), none, tukey or bh")
        parser.add_argument("--simulations", type=int, help="simulated studies per design (default 200)")
        parser.add_argument("--seed", type=int, help="random seed (default 0)")
        parser.add_argument(
            "--slope-sd-annotator", type=float, help="conditions: SD of each annotator's shift of each condition"
        )
        parser.add_argument("--slope-sd-item", type=float, help="conditions: SD of each item's shift of each condition")
        parser.add_argument(
            "--analysis",
            choices=("intercepts", "paired"),
            help="conditions: analyse as compare_conditions (intercepts, default) or paired_contrasts (paired)",
        )

    def handle(self, *args, design, alpha, power, **options):
        given = {
            name for name in DESIGN_FLAGS["conditions"] | DESIGN_FLAGS["pairwise"] if options.get(name) is not None
        }
        given |= {name for name in DESIGN_FLAGS["difference"] if options.get(name) is not None}
        for name in sorted(given - DESIGN_FLAGS[design]):
            raise CommandError(f"--{name.replace('_', '-')} does not apply to --design {design}.")
        adjust = options["adjust"] or "holm"
        allowed = tuple(ADJUSTMENTS) if design == "conditions" else ("holm", "bh", "none")
        if design != "difference" and adjust not in allowed:
            raise CommandError(f"--adjust must be one of {', '.join(allowed)} with --design {design}; got {adjust!r}.")
        simulation = {
            "contrast": options["contrast"],
            "alpha": alpha,
            "target": power,
            "adjustment": adjust,
            "simulations": 200 if options["simulations"] is None else options["simulations"],
            "seed": 0 if options["seed"] is None else options["seed"],
        }
        try:
            if design == "difference":
                self.difference(alpha=alpha, power=power, **options)
            elif design == "conditions":
                result, info = plan_conditions(
                    slug=options["pilot"],
                    means=options["means"],
                    annotator_sd=options["sd_annotator"],
                    item_sd=options["sd_item"],
                    residual_sd=options["sd_residual"],
                    annotators=options["annotators"],
                    items=options["items"],
                    items_per_annotator=options["items_per_annotator"],
                    slope_sd_annotator=options["slope_sd_annotator"] or 0.0,
                    slope_sd_item=options["slope_sd_item"] or 0.0,
                    analysis=options["analysis"] or "intercepts",
                    **simulation,
                )
                self.conditions(result, info, options["pilot"])
            else:
                result = plan_pairwise(
                    strengths=options["strengths"],
                    annotators=options["annotators"],
                    items=options["items"],
                    pairs_per_annotator=options["pairs_per_annotator"],
                    tie_rate=options["tie_rate"] or 0.0,
                    annotator_sd=options["sd_annotator"] or 0.0,
                    item_sd=options["sd_item"] or 0.0,
                    **simulation,
                )
                self.pairwise(result)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc

    def difference(self, *, pilot, effect, annotators, items, alpha, power, max_annotators, max_items, **options):
        if pilot is None:
            raise CommandError("--pilot is needed with --design difference.")
        if effect is None:
            raise CommandError("--effect is needed with --design difference.")
        for flag, value in (("--annotators", annotators), ("--items", items)):
            if value is not None and len(value) != 1:
                raise CommandError(f"{flag} takes one count with --design difference; got {len(value)}.")
        max_annotators = 1000 if max_annotators is None else max_annotators
        max_items = 1000 if max_items is None else max_items
        result, info = plan_from_pilot(
            slug=pilot,
            effect=effect,
            annotators=None if annotators is None else annotators[0],
            items=None if items is None else items[0],
            alpha=alpha,
            target=power,
            max_annotators=max_annotators,
            max_items=max_items,
        )
        c = result.components
        design = result.design
        write = self.stdout.write
        write(
            f"Pilot {pilot}: {info['pilot_annotators']} annotators × {info['pilot_items']} items; "
            f"estimate {info['pilot_estimate']:+.3f}; {info['model']}."
        )
        write(f"Variance of the effect: annotators {c.annotator:.4f}, items {c.item:.4f}, residual {c.residual:.4f}.")
        write(
            f"Design {design.annotators} annotators × {design.items} items: power {design.power:.1%} to detect "
            f"{effect:+g} at alpha {alpha:g} (SE {design.se:.4f}, df {design.df:.1f})."
        )
        if result.smallest is None:
            write(f"No design within {max_annotators} annotators × {max_items} items reaches {power:.0%} power.")
        else:
            best = result.smallest
            write(
                f"Smallest design reaching {power:.0%}: {best.annotators} annotators × {best.items} items "
                f"({best.judgments} ratings, power {best.power:.1%})."
            )
        write(
            f"With unlimited annotators at {design.items} items: power at most "
            f"{result.power_with_unlimited_annotators:.1%}. With unlimited items at {design.annotators} annotators: "
            f"at most {result.power_with_unlimited_items:.1%}."
        )
        write(result.cap)

    def conditions(self, result, info, pilot):
        write = self.stdout.write
        if pilot is not None:
            means = ", ".join(f"{name} {value:.3f}" for name, value in info["pilot_means"].items())
            write(
                f"Pilot {pilot} (as 2 conditions): {info['pilot_annotators']} annotators × {info['pilot_items']} "
                f"items; means {means}."
            )
        k = len(result.conditions)
        means = ", ".join(f"{name} {value:.3f}" for name, value in zip(result.conditions, result.means, strict=True))
        write(f"Design conditions: K = {k} (reference {result.reference}); means {means}.")
        write(
            f"SDs: annotator {result.annotator_sd:.3f}, item {result.item_sd:.3f}, residual {result.residual_sd:.3f}; "
            f"condition shifts by annotator {result.slope_sd_annotator:.3f}, by item {result.slope_sd_item:.3f}."
        )
        analysed = {"intercepts": "compare_conditions", "paired": "paired_contrasts"}[result.analysis]
        write(f"Each simulated study analysed as {analysed} analyses one.")
        first, second = result.contrast
        write(
            f"Contrast {first} − {second}: {result.difference:+.3f}; alpha {result.alpha:g}, p adjusted by "
            f"{ADJUSTMENTS[result.adjustment]} across {k * (k - 1) // 2} contrasts; {result.simulations} simulated "
            f"studies per design (seed {result.seed})."
        )
        rows = [(d.annotators, d.items, d.items_per_annotator, d.scores, d.power, d.mc_se) for d in result.grid]
        self.table(("annotators", "items", "items each", "scores", "power", "MC SE"), rows)
        self.verdict(result, "scores", lambda d: d.scores, "items")

    def pairwise(self, result):
        write = self.stdout.write
        strengths = ", ".join(
            f"{name} {value:+.3f}" for name, value in zip(result.conditions, result.log_strengths, strict=True)
        )
        write(f"Design pairwise: log strengths {strengths}; tie rate {result.tie_rate:.2f}.")
        write(f"SDs: annotator {result.annotator_sd:.3f}, prompt {result.item_sd:.3f}.")
        first, second = result.contrast
        adjustment = {None: "none", "holm": "Holm", "bh": "Benjamini–Hochberg"}[result.adjustment]
        write(
            f"Contrast {first} − {second}: {result.difference:+.3f} in log strength; alpha {result.alpha:g}, p "
            f"adjusted by {adjustment}; {result.pairs_per_annotator} pairs per annotator; {result.simulations} "
            f"simulated studies per design (seed {result.seed})."
        )
        rows = [(d.annotators, d.prompts, d.judgments, d.power, d.mc_se) for d in result.grid]
        self.table(("annotators", "prompts", "judgments", "power", "MC SE"), rows)
        self.verdict(result, "judgments", lambda d: d.judgments, "prompts")

    def table(self, header, rows):
        widths = [max(len(name), 8) for name in header]
        self.stdout.write("  ".join(f"{name:>{w}}" for name, w in zip(header, widths, strict=True)))
        for row in rows:
            *numbers, power, mc_se = row
            cells = [*(str(n) for n in numbers), f"{power:.1%}", f"{mc_se:.1%}"]
            self.stdout.write("  ".join(f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True)))

    def verdict(self, result, unit, size, second):
        write = self.stdout.write
        best = result.smallest
        if best is None:
            write(f"No design of the grid reaches {result.target:.0%} power.")
            return
        write(
            f"Smallest design reaching {result.target:.0%}: {best.annotators} annotators × "
            f"{getattr(best, second)} {second} ({size(best)} {unit}, power {best.power:.1%} ± {best.mc_se:.1%})."
        )
        null = result.type_one_error
        if null is not None:
            write(
                f"Type I error of that design with the contrast's difference set to 0: {null.power:.1%} ± "
                f"{null.mc_se:.1%} (alpha {result.alpha:g})."
            )
