"""Software versions recorded with every image and export."""

import functools

from evalsite.versions import package_versions

PACKAGES = ("torch", "diffusers", "transformers", "django", "celery", "numpy")


@functools.cache
def software_versions() -> dict[str, str]:
    """Python's and the key packages' versions."""
    return package_versions(PACKAGES)
