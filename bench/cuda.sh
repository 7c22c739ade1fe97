#!/usr/bin/env bash
# The GPU checks and benchmarks of docs/benchmarks.md, on a CUDA host with the project installed:
#
#   bash bench/cuda.sh [OUT_DIR [PART ...]]     # default OUT_DIR: var/bench-cuda; default PARTs: all four
#
# generation  speed with a Stable Diffusion 2.1-base-shaped model (random weights), fp16, 20 steps, at 224², 512²
#             and 768²: EvalSite's fused pairs against diffusers' own pipeline, one prompt per call and batched
# families    the family tests (SD, SDXL, LDM, PixArt-α) with the workers on the GPU: fused pairs match diffusers'
#             pipeline per arm
# metrics     FID feature extraction with torch-fidelity's Inception-v3 (random weights unless
#             EVALSITE_INCEPTION_WEIGHTS exists) and CLIP-score scoring with a ViT-L/14-shaped CLIP, N = 1,000 and
#             10,000
# compile     224², 64 prompts or pairs per call, with EvalSite's denoiser also compiled (EVALSITE_COMPILE)
# Each part has its own time limit and log in OUT_DIR (about 4, 1, 1.5 and 4 minutes on an H100); a part that fails
# does not stop the others.
set -u
out=${1:-var/bench-cuda}
shift || true
parts=${*:-generation families metrics compile}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 EVALSITE_VAR_DIR=${EVALSITE_VAR_DIR:-$(mktemp -d)}
generation=(bench/generation.py --model sd21-shaped --device cuda --dtype float16 --steps 20 --json "$out/generation.jsonl")
quiet() { grep -v "should be kept in float32"; }
wants() { [[ " $parts " == *" $1 "* ]]; }

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $py -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)"
  date -u; } 2>&1 | tee "$out/device.txt"

if wants generation; then
  timeout 190 $py "${generation[@]}" --sizes 224 --batch 32 64 128 --budget-s 150 2>&1 | quiet | tee "$out/generation-224.log"
  timeout 120 $py "${generation[@]}" --sizes 512 --batch 32 --budget-s 90 2>&1 | quiet | tee "$out/generation-512.log"
  timeout 130 $py "${generation[@]}" --sizes 768 --batch 16 --single 2 --repeats 1 --budget-s 100 2>&1 | quiet \
    | tee "$out/generation-768.log"
fi

if wants families; then
  # float32 without TF32, so that the GPU's pixels meet the tests' tolerance against diffusers on the CPU
  EVALSITE_DEVICE=cuda EVALSITE_DTYPE=float32 NVIDIA_TF32_OVERRIDE=0 timeout 100 \
    $py -m pytest -q -p no:cacheprovider tests/generation/test_families.py 2>&1 | tail -15 | tee "$out/families.log"
fi

if wants metrics; then
  weights=()
  [ -e "${EVALSITE_INCEPTION_WEIGHTS:-/nonexistent}" ] || weights=(--random-inception "$EVALSITE_VAR_DIR/inception-random.pth")
  timeout 100 $py bench/metrics.py --device cuda --networks inception "${weights[@]}" --sizes 1000 10000 \
    --clip l14-shaped --clip-images 1000 --batch 64 2>&1 | tail -8 | tee "$out/metrics.log"
fi

if wants compile; then
  timeout 280 $py "${generation[@]}" --sizes 224 --batch 64 --single 1 --repeats 2 --compile 2>&1 | quiet \
    | tee "$out/generation-compile.log"
fi
