"""Software versions recorded with every image and export."""
import functools
import platform
from importlib import metadata

PACKAGES = ("torch", "diffusers", "transformers", "django", "celery", "numpy")


@functools.cache
def software_versions() -> dict[str, str]:
    """Python's and the key packages' versions."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
