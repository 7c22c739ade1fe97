"""The paper's generation settings, offered as presets on the study form: choosing one fills width, height, steps
and guidance (annotations/static/annotations/admin/study_form.js); nothing else is saved from it."""

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    width: int
    height: int
    steps: int
    guidance_scale: float


#: SD-2.1-base (trained at 512²) below, beside and above its training size; LDM text2im (trained at 256²) below and
#: above it.
PRESETS = (
    Preset("sd21-224", "SD-2.1-base at 224×224 (below its 512² training size)", 224, 224, 50, 7.5),
    Preset("sd21-512x288", "SD-2.1-base at 512×288 (a 16:9 frame)", 512, 288, 50, 7.5),
    Preset("sd21-768", "SD-2.1-base at 768×768 (above its training size)", 768, 768, 50, 7.5),
    Preset("ldm-128", "LDM text2im at 128×128 (below its 256² training size)", 128, 128, 50, 6.0),
    Preset("ldm-512", "LDM text2im at 512×512 (above its training size)", 512, 512, 50, 6.0),
)


def preset_choices() -> list[tuple[str, str]]:
    return [("", "— keep the values below —"), *((preset.key, preset.label) for preset in PRESETS)]


def presets_json() -> str:
    """The presets by key, for the select's ``data-presets``."""
    values = {
        preset.key: {name: value for name, value in asdict(preset).items() if name not in ("key", "label")}
        for preset in PRESETS
    }
    return json.dumps(values)
