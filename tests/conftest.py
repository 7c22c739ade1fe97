"""Shared fixtures: a tiny saved pipeline, a fresh MEDIA_ROOT per test, and study factories."""

import pytest

from generation.tiny import save_tiny_pipeline


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """A tiny randomly initialised Stable Diffusion pipeline saved with save_pretrained."""
    return str(save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd"))


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def image_links_checked_every_time(settings):
    """Each image request checks its study afresh (tests change a study's status between requests); the window in
    which an "open" answer is trusted has a test of its own."""
    settings.EVALSITE_IMAGE_LINK_RECHECK_SECONDS = 0


@pytest.fixture(autouse=True)
def leases_swept_on_every_consent(settings):
    """Each consent looks for expired annotators (tests expire one, then consent another at once); the interval
    between searches has a test of its own."""
    settings.EVALSITE_LEASE_SWEEP_SECONDS = 0


@pytest.fixture(autouse=True, scope="session")
def in_memory_broker():
    """Tasks queued by the code under test go to an in-memory broker, not the local default's folder."""
    from evalsite.celery import app

    app.conf.broker_url = "memory://"
    app.conf.broker_transport_options = {}
    return app
