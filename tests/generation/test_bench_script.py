"""bench/cuda.sh --device cpu: the GPU benchmark script runs every part with the tiny models on the CPU, checks
correctness before it times anything, and writes its JSON lines and Markdown tables, so that the script is known to
work before a GPU sees it."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_script_runs_on_the_cpu(tmp_path):
    out = tmp_path / "bench"
    environment = {
        **{name: value for name, value in os.environ.items() if name != "TORCHINDUCTOR_CACHE_DIR"},
        "PYTHON": sys.executable,
        "BENCH_QUICK": "1",
        "EVALSITE_VAR_DIR": str(tmp_path / "var"),
    }
    finished = subprocess.run(
        ["bash", "bench/cuda.sh", "--device", "cpu", str(out)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_model = {model: [row for row in rows if row.get("model") == model] for model in ("tiny", "tiny-pixart")}

    for model, measured in by_model.items():
        checks = [row for row in measured if row["mode"] == "check"]
        # correctness first: the checks are the first lines each family writes
        assert [row["mode"] for row in measured[: len(checks)]] == ["check"] * len(checks)
        assert {row["size"] for row in checks} == {64, 96}, model
        assert all(row["passed"] for row in checks), checks
        training = next(row for row in checks if row["identical_arms"])
        assert training["factors_exactly_one"] and training["arms_bit_identical"]
        assert {"diffusers-batched", "evalsite-fused"} <= {row["mode"] for row in measured}
        for row in measured:
            if "images_per_s" in row:
                assert row["images_per_s"] > 0 and row["tflop_per_s"] > 0, row

    tiny = by_model["tiny"]
    modes = {row["mode"] for row in tiny}
    assert {"diffusers-single", "diffusers-compiled", "evalsite-compiled", "ours-arm-cost"} <= modes
    for row in (row for row in tiny if row["mode"].endswith("-compiled")):
        assert row["check"]["passed"] and row["compile_s"] >= 0 and len(row["warm_up_seconds"]) == 2
    cost = next(row for row in tiny if row["mode"] == "ours-arm-cost")
    assert cost["size"] == 96 and len(cost["cost_percent_each"]) == cost["repeats"] >= 2
    assert cost["cost_percent_min"] <= cost["cost_percent_max"]
    restarts = [row for row in tiny if row["mode"] == "restart"]
    assert [row["run"] for row in restarts] == ["first start, empty cache", "restart, the cache kept"]
    assert all(row["to_first_pairs_s"] > row["first_s"] > 0 for row in restarts)
    # diffusers' best batched call and EvalSite's fused call, at each size
    profiles = sorted(path.name for path in (out / "profiles").iterdir())
    assert [name.rsplit("-", 1)[0] for name in profiles] == [
        "profile-tiny-64-diffusers-batched",
        "profile-tiny-64-evalsite-fused",
        "profile-tiny-96-diffusers-batched",
        "profile-tiny-96-evalsite-fused",
    ]
    profile = (out / "profiles" / "profile-tiny-96-evalsite-fused-2.txt").read_text()
    assert "denoiser: CPU" in profile and "VAE decode: CPU" in profile and "scaled_dot_product" in profile

    markdown = (out / "results.md").read_text()
    assert markdown.startswith("# bench/cuda.sh --device cpu")
    assert "FAILED" not in markdown
    for text in (
        "| call | prompts/call | images/call | images/s | peak GiB (loop / decode) | model TFLOP/s | share of peak",
        "| diffusers, batched, diffusers' compiled recipe | 2 | 2 |",
        "| EvalSite, fused pairs | 2 | 4 |",
        "| EvalSite, fused pairs, compiled (EVALSITE_COMPILE) | 2 | 4 |",
        "ours-arm cost at 2 pairs, 2 alternating repeats",
        "paid back after",
        "model=tiny-pixart",
        "| restart, the cache kept |",
        "- check 64² (training size): EvalSite's baseline arm vs diffusers 0, ours arm vs diffusers with the scaled "
        "processors 0 pixel levels (tolerance 2); every factor exactly 1: True, arms bit-identical: True: passed",
    ):
        assert text in markdown, text
