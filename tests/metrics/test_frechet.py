"""The Fréchet distance from running sums matches numpy/scipy on synthetic Gaussian features, batch by batch."""

import numpy as np
import pytest
import scipy.linalg
import torch

from metrics.features import FeatureSums, FidFeatures, frechet_distance


def reference_fid(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook formula, computed independently: ‖μx − μy‖² + Tr(Σx + Σy − 2 (Σx Σy)^½)."""
    mu_x, mu_y = x.mean(axis=0), y.mean(axis=0)
    sigma_x, sigma_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(sigma_x @ sigma_y).real
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(sigma_x + sigma_y - 2 * root))


def sums_of(features: np.ndarray, batch: int = 37) -> FeatureSums:
    """The running sums, accumulated batch by batch as torchmetrics' update accumulates them."""
    sums = FeatureSums.zeros(features.shape[1])
    for start in range(0, len(features), batch):
        chunk = torch.from_numpy(features[start : start + batch]).double()
        sums.total += chunk.sum(dim=0)
        sums.outer += chunk.t().mm(chunk)
        sums.count += len(chunk)
    return sums


@pytest.fixture(scope="module")
def fid() -> FidFeatures:
    return FidFeatures("tiny-random", torch.device("cpu"))


@pytest.mark.parametrize("shift", [0.0, 0.5, 3.0])
def test_matches_scipy_on_gaussian_features(fid, shift):
    rng = np.random.default_rng(0)
    dim = fid.dim
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    x = rng.normal(size=(600, dim)) @ mixing
    y = rng.normal(size=(500, dim)) @ (mixing * 1.3) + shift
    expected = reference_fid(x, y)
    assert frechet_distance(fid.metric, sums_of(x), sums_of(y)) == pytest.approx(expected, rel=1e-6, abs=1e-8)
    assert frechet_distance(fid.metric, sums_of(x), sums_of(x, batch=600)) == pytest.approx(0.0, abs=1e-8)


def test_streaming_batches_equal_one_update(fid):
    """Feeding images in batches of 3 gives the sums of one torchmetrics update over all of them."""
    generator = torch.Generator().manual_seed(1)
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=generator) for _ in range(10)]
    streamed = FeatureSums.zeros(fid.dim)
    for start in range(0, 10, 3):
        fid.add(streamed, images[start : start + 3])
    whole = FeatureSums.zeros(fid.dim)
    fid.add(whole, images)
    assert streamed.count == whole.count == 10
    torch.testing.assert_close(streamed.total, whole.total)
    torch.testing.assert_close(streamed.outer, whole.outer)


def test_too_few_images_is_an_error(fid):
    one = FeatureSums.zeros(fid.dim)
    one.count = 1
    with pytest.raises(ValueError, match="at least two"):
        frechet_distance(fid.metric, one, one)
