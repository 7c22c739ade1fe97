from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from evalsite.commands import check_out_folder
from evalsite.progress import CommandOutput, add_progress_argument
from generation.diagnostics import measure_attention_entropy, plot_attention_entropy
from generation.pipelines import ModelLoadError, load_model

DEFAULT_PROMPTS = [
    "A man riding skis down a snow covered slope.",
    "A red bus going down a busy city road.",
    "A teddy bear laying in bed with a blanket over it.",
]


class Command(BaseCommand):
    help = (
        "Measure the mean self-attention entropy per UNet layer at several square sizes, with the default scale "
        "(baseline) and the entropy-aware scale (ours); write attention_entropy.csv and attention_entropy.png."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", default=None, help="diffusers model id or folder (default: EVALSITE_MODEL)")
        parser.add_argument("--revision", default="", help="model revision (default: the model's default)")
        parser.add_argument("--sizes", type=int, nargs="+", required=True, help="square sizes in pixels")
        parser.add_argument("--prompts", nargs="+", default=DEFAULT_PROMPTS, help="prompts to average over")
        parser.add_argument("--steps", type=int, default=10, help="denoising steps per image")
        parser.add_argument("--seed", type=int, default=0, help="seed of every run's initial noise")
        parser.add_argument("--out", type=Path, required=True, help="folder to write into")
        add_progress_argument(parser)

    def handle(self, *args, model, revision, sizes, prompts, steps, seed, out, **options):
        sizes = list(dict.fromkeys(sizes))
        bad_sizes = [size for size in sizes if size <= 0 or size % 8]
        if bad_sizes:
            raise CommandError(f"--sizes must be positive multiples of 8; got {', '.join(map(str, bad_sizes))}.")
        if steps < 1:
            raise CommandError(f"--steps must be at least 1; got {steps}.")
        if seed < 0:
            raise CommandError(f"--seed must not be negative; got {seed}.")
        prompts = [prompt.strip() for prompt in prompts]
        if not all(prompts):
            raise CommandError("--prompts must not contain empty prompts.")
        check_out_folder(out)
        output = CommandOutput(self, options)
        try:
            loaded = load_model(model or settings.EVALSITE_MODEL, revision)
        except ModelLoadError as exc:
            raise CommandError(str(exc)) from exc

        try:
            frame = measure_attention_entropy(
                loaded, prompts=prompts, sizes=sizes, steps=steps, seed=seed, bar=output.bar
            )
        except ValueError as exc:  # a size the model cannot take; refused before anything runs
            raise CommandError(f"--sizes: {exc}") from exc

        out.mkdir(parents=True, exist_ok=True)
        csv_path = out / "attention_entropy.csv"
        temp = out / ".attention_entropy.csv.part"
        frame.to_csv(temp, index=False)
        temp.replace(csv_path)
        png_path = plot_attention_entropy(frame, out / "attention_entropy.png")
        output.say(f"Wrote {csv_path}")
        output.say(f"Wrote {png_path}")
