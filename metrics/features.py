"""Feature networks and the running sums behind FID and CLIP score, on torchmetrics.

FID uses ``torchmetrics.image.fid.FrechetInceptionDistance``: its Inception-v3 (torch-fidelity's port of the
TensorFlow FID network, ``feature=2048``) with weights from a local file, or a custom ``nn.Module`` (the tiny random
network the tests use). Its state is three running sums per image set (feature sum, sum of outer products, count),
so memory does not grow with the number of images; we keep one such triple per image set (the reference, and each
arm at each resolution), feed batches through the metric's own ``update`` and get the distance from its
``compute`` after ``merge_state``. CLIP score uses ``torchmetrics.multimodal.clip_score.CLIPScore`` with a CLIP
model and processor loaded from a local folder.

Resizing: the Inception network resizes uint8 images to 299×299 itself (bilinear with antialiasing, torchmetrics'
default). Reference images come in many sizes and a batch must share one, so every image, reference or generated,
is first resized alone with that same interpolation (PyTorch's uint8 kernel) to the network's input size; the
network's own resize is then the identity. The CLIP processor resizes each image itself (shortest side, bicubic,
centre crop), as transformers documents for CLIP.
"""

import hashlib
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from django.conf import settings
from PIL import Image

INCEPTION = "inception"
TINY_RANDOM = "tiny-random"
FEATURE_NETWORKS = (INCEPTION, TINY_RANDOM)
INCEPTION_WEIGHTS_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)


class MetricsSetupError(Exception):
    """A feature network or its weights cannot be used here; the message says what to install or put where."""


def pick_device() -> torch.device:
    if settings.EVALSITE_METRICS_DEVICE:
        return torch.device(settings.EVALSITE_METRICS_DEVICE)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def batch_size(device: torch.device) -> int:
    if settings.EVALSITE_METRICS_BATCH_SIZE > 0:
        return settings.EVALSITE_METRICS_BATCH_SIZE
    return 64 if device.type == "cuda" else 16


def to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image → (3, H, W) uint8."""
    # (H, W, 3) -> (3, H, W)
    return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1)


def resize_uint8(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(3, H, W) uint8 → (3, *size) uint8 with torchmetrics' FID interpolation (bilinear, antialiased)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    # (3, H, W) -> (1, 3, H, W) -> (1, 3, h, w). PyTorch's uint8 kernel for this mode: the same filter, rounded to
    # uint8 (within one level of resizing in float and rounding), and an order of magnitude faster on the CPU.
    return F.interpolate(image[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]


class TinyRandomFeatures(torch.nn.Module):
    """A small, randomly initialised (fixed seed) stand-in for Inception: uint8 (B, 3, H, W) → (B, 32).

    It takes its input like torchmetrics' Inception (uint8, resized inside to its input size), so the whole path
    runs in tests in a fraction of a second. Its FID values mean nothing.
    """

    INPUT_IMAGE_SIZE = 32
    num_features = 32

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.conv1 = torch.nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.conv2 = torch.nn.Conv2d(16, self.num_features, 3, stride=2, padding=1)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        size = (self.INPUT_IMAGE_SIZE, self.INPUT_IMAGE_SIZE)
        x = F.interpolate(images.float(), size=size, mode="bilinear", align_corners=False, antialias=True)
        x = (x - 128) / 128
        x = torch.relu(self.conv1(x))  # (B, 16, 16, 16)
        x = torch.relu(self.conv2(x))  # (B, 32, 8, 8)
        return x.mean(dim=(2, 3))  # (B, 32)


def check_inception() -> Path:
    """The Inception weights file, after checking that torch-fidelity imports; else MetricsSetupError."""
    weights = Path(settings.EVALSITE_INCEPTION_WEIGHTS)
    if importlib.util.find_spec("torch_fidelity") is None:
        raise MetricsSetupError(
            "The FID Inception network needs torch-fidelity (which needs torchvision built for your torch): "
            "pip install torch-fidelity==0.4.0 and the torchvision release that matches torch, on the host that "
            "computes metrics. Or set EVALSITE_FEATURE_NETWORK=tiny-random for a smoke run (its FID means nothing)."
        )
    try:
        import torch_fidelity  # noqa: F401
    except Exception as exc:  # ImportError, or torchvision's operator errors when it does not match torch
        raise MetricsSetupError(
            f"torch-fidelity is installed but does not import ({exc}); install the torchvision release that "
            "matches this torch build."
        ) from exc
    if not weights.is_file():
        raise MetricsSetupError(
            f"The Inception weights file {weights} does not exist. Download {INCEPTION_WEIGHTS_URL} on a machine "
            f"with internet access and put it at {weights}, or point EVALSITE_INCEPTION_WEIGHTS at it."
        )
    return weights


def feature_network(kind: str) -> tuple[object, int]:
    """The ``feature`` argument for FrechetInceptionDistance and the input size images are resized to."""
    if kind == INCEPTION:
        return check_inception(), 299
    if kind == TINY_RANDOM:
        return TinyRandomFeatures(), TinyRandomFeatures.INPUT_IMAGE_SIZE
    raise MetricsSetupError(f"Unknown feature network {kind!r}; choose one of {', '.join(FEATURE_NETWORKS)}.")


@dataclass
class FeatureSums:
    """The sufficient statistics of a feature set, in torchmetrics' FID state layout (float64)."""

    total: torch.Tensor
    outer: torch.Tensor
    count: int = 0

    @classmethod
    def zeros(cls, dim: int) -> "FeatureSums":
        return cls(torch.zeros(dim, dtype=torch.float64), torch.zeros(dim, dim, dtype=torch.float64))

    def as_state(self, prefix: str) -> dict[str, torch.Tensor]:
        return {
            f"{prefix}_features_sum": self.total,
            f"{prefix}_features_cov_sum": self.outer,
            f"{prefix}_features_num_samples": torch.tensor(self.count, dtype=torch.long),
        }

    def to_dict(self) -> dict:
        return {"total": self.total, "outer": self.outer, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureSums":
        return cls(data["total"], data["outer"], int(data["count"]))


class FidFeatures:
    """One FrechetInceptionDistance metric used as a feature extractor and distance, over many image sets."""

    def __init__(self, kind: str, device: torch.device | None = None) -> None:
        from torchmetrics.image.fid import FrechetInceptionDistance

        feature, self.input_size = feature_network(kind)
        self.kind = kind
        self.device = device or pick_device()
        if isinstance(feature, Path):
            metric = FrechetInceptionDistance(
                feature=2048, feature_extractor_weights_path=str(feature), compute_with_cache=False
            )
        else:
            metric = FrechetInceptionDistance(feature=feature, compute_with_cache=False)
        self.metric = metric.to(self.device)
        self.dim = int(self.metric.real_features_sum.shape[0])

    def prepare(self, image: Image.Image) -> torch.Tensor:
        return resize_uint8(to_uint8_tensor(image), (self.input_size, self.input_size))

    @torch.inference_mode()
    def add(self, sums: FeatureSums, images: list[torch.Tensor]) -> None:
        """Add a batch of prepared (3, S, S) uint8 images to ``sums`` through the metric's ``update``."""
        self.metric.reset()
        self.metric.update(torch.stack(images).to(self.device), real=False)
        sums.total += self.metric.fake_features_sum.cpu()
        sums.outer += self.metric.fake_features_cov_sum.cpu()
        sums.count += int(self.metric.fake_features_num_samples)

    def distance(self, reference: FeatureSums, generated: FeatureSums) -> float:
        return frechet_distance(self.metric, reference, generated)


def frechet_distance(metric, reference: FeatureSums, generated: FeatureSums) -> float:
    """FID between two feature sets given by their sums, by the metric's own ``compute``."""
    if reference.count < 2 or generated.count < 2:
        raise ValueError("FID needs at least two images in each set.")
    metric.reset()
    device = metric.real_features_sum.device
    state = {**reference.as_state("real"), **generated.as_state("fake")}
    metric.merge_state({name: value.to(device) for name, value in state.items()})
    metric.orig_dtype = torch.float64  # set by update(); the sums come from a checkpoint here
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*compute.*before the ``update``.*")
        return float(metric.compute())


@dataclass
class ScoreSums:
    total: float = 0.0
    count: int = 0

    @property
    def value(self) -> float:
        # CLIPScore.compute: max(score / n, 0)
        return max(self.total / self.count, 0.0)

    def to_dict(self) -> dict:
        return {"total": self.total, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict) -> "ScoreSums":
        return cls(float(data["total"]), int(data["count"]))


class _TensorFeatures(torch.nn.Module):
    """A CLIPModel whose get_*_features return tensors.

    transformers 5 returns ``BaseModelOutputWithPooling`` (the projection in ``pooler_output``), which torchmetrics
    1.9.0's CLIPScore does not unwrap (Lightning-AI/torchmetrics#3407).
    """

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    @staticmethod
    def _tensor(output) -> torch.Tensor:
        return output if isinstance(output, torch.Tensor) else output.pooler_output

    def get_image_features(self, *args, **kwargs) -> torch.Tensor:
        return self._tensor(self.model.get_image_features(*args, **kwargs))

    def get_text_features(self, *args, **kwargs) -> torch.Tensor:
        return self._tensor(self.model.get_text_features(*args, **kwargs))


class _TruncatingProcessor:
    """The CLIP processor, truncating captions to the text model's length (LAION captions can be longer)."""

    def __init__(self, processor, max_length: int) -> None:
        self.processor = processor
        self.max_length = max_length

    def __call__(self, *args, **kwargs):
        if kwargs.get("text") is not None:
            kwargs.update(truncation=True, max_length=self.max_length)
        return self.processor(*args, **kwargs)


def load_clip(folder: Path):
    """CLIP model and processor from a local folder (save_pretrained layout); MetricsSetupError when missing."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise MetricsSetupError(
            f"No CLIP model at {folder}. On a machine with internet access run "
            "`CLIPModel.from_pretrained('openai/clip-vit-large-patch14').save_pretrained(DIR)` and the same with "
            f"CLIPProcessor, copy DIR to {folder}, or point EVALSITE_CLIP_MODEL at it."
        )
    from transformers import CLIPModel, CLIPProcessor
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the PIL image-processor fallback warns when torchvision is absent
    try:
        model = CLIPModel.from_pretrained(folder, local_files_only=True)
        processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise MetricsSetupError(f"Could not load the CLIP model at {folder}: {exc}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    model.eval()
    return _TensorFeatures(model), _TruncatingProcessor(processor, model.config.text_config.max_position_embeddings)


CLIP_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_SAMPLE = 1 << 20


def clip_identity(folder: Path) -> str:
    """``NAME@DIGEST``: the folder's name and a hash of its config, processor files and weights (each weights file's
    name, size, first and last MiB), so that another model, or other weights in the same folder, gets another."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(item for item in folder.iterdir() if item.is_file()):
        digest.update(path.name.encode() + b"\0")
        if path.suffix.lower() in CLIP_WEIGHT_SUFFIXES:
            size = path.stat().st_size
            digest.update(str(size).encode() + b"\0")
            with open(path, "rb") as handle:
                digest.update(handle.read(_SAMPLE))
                if size > 2 * _SAMPLE:
                    handle.seek(size - _SAMPLE)
                    digest.update(handle.read(_SAMPLE))
        elif path.suffix.lower() in (".json", ".txt", ".model"):
            digest.update(path.read_bytes())
    return f"{folder.resolve().name[:33]}@{digest.hexdigest()[:16]}"  # fits MetricResult.feature_network (50)


class ClipScorer:
    """torchmetrics' CLIPScore (100 · max(cos(image, caption), 0) per image) with a local CLIP model."""

    def __init__(self, folder: Path | None = None, device: torch.device | None = None) -> None:
        from torchmetrics.multimodal.clip_score import CLIPScore

        folder = Path(folder or settings.EVALSITE_CLIP_MODEL)
        model, processor = load_clip(folder)
        self.identity = clip_identity(folder)
        self.device = device or pick_device()
        self.metric = CLIPScore(model_name_or_path=lambda: (model, processor), compute_with_cache=False)
        self.metric.to(self.device)

    @torch.inference_mode()
    def add(self, sums: ScoreSums, images: list[torch.Tensor], captions: list[str]) -> None:
        self.metric.reset()
        self.metric.update([image.to(self.device) for image in images], captions)
        sums.total += float(self.metric.score)
        sums.count += int(self.metric.n_samples)
