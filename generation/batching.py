"""How many pairs go into one forward pass, and which jobs may share one."""

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings

from .models import PairJob

if TYPE_CHECKING:
    import torch

#: Settings that must be equal for jobs to share a batch.
BATCH_KEY_FIELDS = (
    "model",
    "revision",
    "dtype",
    "train_width",
    "train_height",
    "width",
    "height",
    "steps",
    "guidance_scale",
    "scheduler",
    "negative_prompt",
    "resize_width",
    "resize_height",
)
#: Device memory one pair (two images, with classifier-free guidance) takes per latent pixel, used only when no
#: batch size is set; out-of-memory halves the batch. An SD-2.1-base-shaped UNet in float16 on an H100 peaked at
#: about 310 KB per pair per latent pixel above the model's weights (docs/benchmarks.md), VAE decoding included.
BYTES_PER_PAIR_LATENT_PIXEL = 320_000
MAX_AUTO_BATCH = 32


def batch_key(job: PairJob) -> tuple:
    return tuple(getattr(job, field) for field in BATCH_KEY_FIELDS)


def group_jobs(jobs: Iterable[PairJob]) -> list[list[PairJob]]:
    """Jobs grouped by the settings a batch must share, each group in id order."""
    groups: dict[tuple, list[PairJob]] = defaultdict(list)
    for job in sorted(jobs, key=lambda job: job.pk):
        groups[batch_key(job)].append(job)
    return list(groups.values())


def pairs_per_batch(*, device: "torch.device", width: int, height: int) -> int:
    """EVALSITE_BATCH_SIZE when set; else an estimate from free CUDA memory; else 4 on the CPU."""
    import torch  # here, not at the top: the web process imports this module and never needs torch

    if settings.EVALSITE_BATCH_SIZE > 0:
        return settings.EVALSITE_BATCH_SIZE
    if device.type != "cuda":
        return 4
    free, _total = torch.cuda.mem_get_info(device)
    per_pair = BYTES_PER_PAIR_LATENT_PIXEL * (width // 8) * (height // 8)
    return max(1, min(MAX_AUTO_BATCH, int(free * 0.8) // per_pair))


def chunks(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]
