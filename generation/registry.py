"""The model registry: inspecting a model's files and registering it with its training resolution."""

from dataclasses import dataclass

from diffusers import AutoencoderKL, PixArtTransformer2DModel, UNet2DConditionModel
from django.core.exceptions import ValidationError

from .models import DiffusionModel
from .pipelines import FAMILY_BY_PIPELINE, ModelLoadError, read_model_index
from .validation import full_clean_named

#: Name of the autoencoder component, per pipeline class.
AUTOENCODER = {"LDMTextToImagePipeline": "vqvae"}
#: The denoiser component (its class and folder), per pipeline class; a UNet where not listed.
DENOISER = {"PixArtAlphaPipeline": (PixArtTransformer2DModel, "transformer")}


@dataclass(frozen=True)
class ModelInfo:
    family: str
    pipeline: str
    train_width: int
    train_height: int


def _pair(size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def inspect_model(source: str, revision: str = "") -> ModelInfo:
    """Read a model's configs (no weights): its family and the training resolution its denoiser declares."""
    index = read_model_index(source, revision)
    pipeline = index["_class_name"]
    denoiser_class, folder = DENOISER.get(pipeline, (UNet2DConditionModel, "unet"))
    try:
        denoiser = denoiser_class.load_config(source, subfolder=folder, revision=revision or None)
        vae = AutoencoderKL.load_config(source, subfolder=AUTOENCODER.get(pipeline, "vae"), revision=revision or None)
    except Exception as exc:  # OSError, ValueError, HTTP errors, ... depending on the source
        raise ModelLoadError(f"Could not read the {folder} or autoencoder config of {source!r}: {exc}") from exc
    try:
        factor = 2 ** (len(vae["block_out_channels"]) - 1)
    except (KeyError, TypeError) as exc:
        raise ModelLoadError(f"The autoencoder config of {source!r} has no usable 'block_out_channels'.") from exc
    try:
        height, width = _pair(denoiser["sample_size"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelLoadError(f"The {folder} config of {source!r} has no usable 'sample_size'.") from exc
    return ModelInfo(FAMILY_BY_PIPELINE[pipeline], pipeline, width * factor, height * factor)


def check_model(model: DiffusionModel) -> ModelInfo:
    """Refuse a registry entry whose source cannot be read or is not of its family, naming the field."""
    try:
        info = inspect_model(model.source, model.revision)
    except ModelLoadError as exc:
        raise ValidationError({"source": str(exc)}) from exc
    if model.family and info.family != model.family:
        raise ValidationError(
            {"family": f"{model.source!r} is a {info.pipeline}, which is family {info.family!r}, not {model.family!r}."}
        )
    return info


def register_model(
    *,
    name: str,
    source: str,
    family: str = "",
    revision: str = "",
    train_width: int | None = None,
    train_height: int | None = None,
    dtype: str = "",
) -> DiffusionModel:
    """Add a model to the registry after reading its configs; family and training size default to theirs."""
    model = DiffusionModel(name=name, source=source, family=family, revision=revision, dtype=dtype)
    info = check_model(model)
    model.family = model.family or info.family
    model.train_width = info.train_width if train_width is None else train_width
    model.train_height = info.train_height if train_height is None else train_height
    full_clean_named(model)
    model.save()
    return model


def ensure_registered(*, source: str, revision: str = "") -> DiffusionModel:
    """The registry entry for ``source``, registered under its last path component when missing."""
    existing = DiffusionModel.objects.filter(source=source, revision=revision).first()
    if existing is not None:
        return existing
    name = source.rstrip("/").rsplit("/", 1)[-1] or source
    if DiffusionModel.objects.filter(name=name).exists():
        name = source
    return register_model(name=name, source=source, revision=revision)
