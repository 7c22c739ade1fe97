from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from analysis.planning import plan_from_pilot


class Command(BaseCommand):
    help = (
        "Power of a fully crossed design (A annotators × I items) for an effect in score points, from a pilot "
        "study's variance components; the smallest design reaching the target power; and what caps the power."
    )

    def add_arguments(self, parser):
        parser.add_argument("--pilot", required=True, metavar="STUDY", help="slug of the pilot study")
        parser.add_argument("--effect", type=float, required=True, help="ours − baseline to detect, in score points")
        parser.add_argument("--annotators", type=int, help="planned annotators (default: the pilot's)")
        parser.add_argument("--items", type=int, help="planned items (default: the pilot's)")
        parser.add_argument("--alpha", type=float, default=0.05)
        parser.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
        parser.add_argument("--max-annotators", type=int, default=1000)
        parser.add_argument("--max-items", type=int, default=1000)

    def handle(self, *args, pilot, effect, annotators, items, alpha, power, max_annotators, max_items, **options):
        try:
            result, info = plan_from_pilot(
                slug=pilot,
                effect=effect,
                annotators=annotators,
                items=items,
                alpha=alpha,
                target=power,
                max_annotators=max_annotators,
                max_items=max_items,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
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
