from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotations.models import Study
from evalsite.progress import CommandOutput, add_progress_argument
from metrics.checkpoint import CheckpointError
from metrics.features import FEATURE_NETWORKS, MetricsSetupError
from metrics.models import Metric, ReferenceSet
from metrics.services import evaluate_metrics, parse_resolution


class Command(BaseCommand):
    help = (
        "Generate both arms for every caption of a reference subset with a study's model and settings, and compute "
        "FID and CLIP score per arm and resolution. Stopped runs resume where they stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", metavar="STUDY", help="slug of the study whose model and settings are used")
        parser.add_argument("--reference", required=True, metavar="SUBSET", help="name of a sampled subset")
        parser.add_argument("--metrics", nargs="+", default=list(Metric.values), choices=Metric.values)
        parser.add_argument(
            "--resolution", nargs="+", default=[], metavar="WxH", help="resolutions to evaluate (default: the study's)"
        )
        parser.add_argument(
            "--feature-network", default="", choices=("",) + FEATURE_NETWORKS, help="default: EVALSITE_FEATURE_NETWORK"
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            metavar="SECONDS",
            help="stop waiting for pair jobs after this long (run again to resume)",
        )
        parser.add_argument("--poll", type=float, default=2.0, metavar="SECONDS")
        parser.add_argument(
            "--requeue-pending",
            action="store_true",
            help="send the pending jobs of an earlier run to the queue again (failed ones always are)",
        )
        add_progress_argument(parser)

    def handle(
        self, *args, study, reference, metrics, resolution, feature_network, timeout, poll, requeue_pending, **options
    ):
        output = CommandOutput(self, options)
        target = Study.objects.filter(slug=study).first()
        if target is None:
            raise CommandError(f"There is no study {study!r}.")
        subset = ReferenceSet.objects.filter(name=reference).first()
        if subset is None:
            raise CommandError(f"There is no reference subset {reference!r}; create one with sample_reference.")
        try:
            resolutions = [parse_resolution(text) for text in resolution]
            outcome = evaluate_metrics(
                study=target,
                reference=subset,
                metrics=metrics,
                resolutions=resolutions,
                feature_network=feature_network,
                timeout=timeout,
                poll_seconds=poll,
                requeue_pending=requeue_pending,
                progress=output.say,
                bar=output.bar,
            )
        except (ValidationError, MetricsSetupError, CheckpointError) as exc:
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from exc
        if not outcome.complete:
            raise CommandError(f"{outcome.pending} pair jobs are not generated yet; run the command again to resume.")
        if outcome.failed:
            self.stderr.write(f"{outcome.failed} pair jobs failed and are left out (see the pair jobs' errors).")
        if outcome.unreadable:
            self.stderr.write(
                f"{outcome.unreadable} pairs have an image that cannot be read and are left out, counted "
                "as failed (see the log)."
            )
        for result in outcome.results:
            output.say(
                f"{result.width}×{result.height} {result.arm:8} {result.get_metric_display():10} "
                f"{result.value:9.3f}  ({result.images} images)"
            )
