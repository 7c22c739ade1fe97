#!/usr/bin/env bash
# The GPU checks and benchmarks of docs/benchmarks.md, on a CUDA host with the project installed: about 8 minutes on
# an H100 by an estimate from earlier timings (the part limits add up to 12.5). With --device cpu, the same script
# with the tiny models on the CPU, under 2 minutes on two cores (tests/generation/test_bench_script.py runs it so,
# with BENCH_QUICK=1). PYTHON names the interpreter (default python3).
#
#   bash bench/cuda.sh [--device cpu] [OUT_DIR [PART ...]]   # default OUT_DIR: var/bench-cuda (var/bench-cpu)
#
# Default PARTs: generation pixart restart. Each writes its log in OUT_DIR, its measurements to OUT_DIR/results.jsonl
# (one JSON object a line) and its tables to OUT_DIR/results.md; a part that fails does not stop the others, and the
# exit status is that of the first part that failed.
# generation  an SD-2.1-base-shaped model (random weights), fp16, 20 DDIM steps. First the correctness checks
#             (EvalSite's pair against diffusers' pipeline for the same seeds, each arm, at 224² and at the
#             training size 512², where every factor must be exactly 1 and the arms bit-identical); then
#             224²: diffusers one prompt per call and batched (64, 128), EvalSite's fused pairs (64), the ours-arm
#             cost (5 alternating repeats), EvalSite compiled as EVALSITE_COMPILE compiles it and diffusers' own
#             compiled recipe (fuse_qkv_projections + channels-last + torch.compile "reduce-overhead"), each
#             checked against its eager call, with compilation seconds and break-even images;
#             512²: the training size, 32 per call; 768²: diffusers 16 and 32 prompts, EvalSite 16 pairs, the
#             allocator's peaks of the denoising loop and of the VAE decode, and torch.profiler tables of both calls
#             in OUT_DIR/profiles
# pixart      a PixArt-α-XL-2-512-shaped model (T5-XXL encoder, random weights): the checks at 1024², then pairs
#             against diffusers' PixArtAlphaPipeline at 512² (training size) and 1024²
# restart     a restarted worker's time to its first pairs with the compile caches that the generation part's
#             compiled calls left in OUT_DIR/compile-cache (EVALSITE_COMPILE_CACHE_DIR); both starts on the CPU
# families    (not by default) the family tests (SD, SDXL, LDM, PixArt-α) with the workers on the GPU
# metrics     (not by default) FID feature extraction and CLIP score at N = 1,000 and 10,000
# COMPILE_BACKEND: torch.compile's backend for the compiled rows and the restart (default: inductor on CUDA; on the
# CPU "eager", which compiles the graphs in seconds: inductor's C++ takes minutes on two cores).
set -u
device=cuda
if [ "${1:-}" = --device ]; then
  device=$2
  shift 2
fi
cpu=0
[ "$device" = cpu ] && cpu=1
if [ $cpu = 1 ]; then out=${1:-var/bench-cpu}; else out=${1:-var/bench-cuda}; fi
shift || true
parts=${*:-generation pixart restart}
mkdir -p "$out"
out=$(cd "$out" && pwd)
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 EVALSITE_VAR_DIR=${EVALSITE_VAR_DIR:-$(mktemp -d)}
cache="$out/compile-cache"
status=0
started=$SECONDS
quiet() { grep -v "should be kept in float32"; }
wants() { [[ " $parts " == *" $1 "* ]]; }
# run LIMIT LOG COMMAND...: the command under a time limit, cut to what is left of BENCH_DEADLINE_S, its output shown
# and kept; a failure is remembered
run() {
  local limit=$1 log=$2 left
  shift 2
  left=$((deadline - (SECONDS - started)))
  if [ "$left" -lt 30 ]; then
    echo "skipped (BENCH_DEADLINE_S=$deadline reached): $log" | tee -a "$out/results.md"
    return
  fi
  [ "$left" -lt "$limit" ] && limit=$left
  timeout "$limit" "$@" 2>&1 | quiet | tee "$out/$log"
  local code=${PIPESTATUS[0]}
  if [ "$code" != 0 ]; then
    echo "FAILED ($code): $log" | tee -a "$out/results.md"
    [ $status = 0 ] && status=$code
  fi
}

if [ $cpu = 1 ]; then
  # the tiny models, all sizes of a family in one process: 96², where the arms differ, and the training size 64²;
  # BENCH_QUICK=1 (the CI's smoke test): 2 steps, one repeat, the ours-arm cost over 2 repeats, diffusers batched
  # at 2 prompts only
  backend=${COMPILE_BACKEND:-eager}
  quick=${BENCH_QUICK:-0}
  steps=4 repeats=2 cost=5 more=(--diffusers-batch 4)
  [ "$quick" = 1 ] && steps=2 repeats=1 cost=2 more=()
  sd=(--model tiny --device cpu --dtype float32 --steps $steps --in-process)
  pixart=(--model tiny-pixart --device cpu --dtype float32 --steps $steps --in-process)
  small=(--sizes 96 64 --check --check-sizes 96 64 --batch 2 "${more[@]}" --single 1 --repeats $repeats)
  small+=(--cost-repeats $cost --compile --compile-batch 2 --profile "$out/profiles")
  pixart_sizes=(--sizes 96 64 --check --check-sizes 96 64 --batch 2 --single 0 --repeats $repeats --cost-repeats 0)
  restart=(--sizes 96 --batch 2)
  limits=(150 0 0 90 120)
else
  backend=${COMPILE_BACKEND:-inductor}
  sd=(--model sd21-shaped --device cuda --dtype float16 --steps 20)
  pixart=(--model pixart-shaped --device cuda --dtype float16 --steps 20)
  small=(--sizes 224 --check --check-sizes 224 512 --batch 64 --diffusers-batch 128 --single 1 --repeats 2)
  small+=(--cost-repeats 5 --compile --compile-batch 64 --budget-s 200)
  middle=(--sizes 512 --batch 32 --single 1 --repeats 2 --budget-s 50)
  large=(--sizes 768 --batch 16 --diffusers-batch 32 --single 0 --repeats 1 --cost-repeats 0 --budget-s 90)
  large+=(--profile "$out/profiles")
  pixart_sizes=(--sizes 512 1024 --check --check-sizes 1024 --batch 8 --single 0 --repeats 1 --cost-repeats 0)
  pixart_sizes+=(--budget-s 80)
  restart=(--sizes 224 --batch 64)
  limits=(250 75 130 110 100)
fi
common=(--json "$out/results.jsonl" --markdown "$out/results.md" --compile-backend "$backend")
# the whole run ends within BENCH_DEADLINE_S (default 570: a device command may run 600 s); a part that would start
# later is skipped, one that would run past it is cut
deadline=${BENCH_DEADLINE_S:-570}
if wants generation; then
  # a new run; without the generation part the results, the profiles and the compile cache of the last one are kept
  # (bash bench/cuda.sh OUT generation, then bash bench/cuda.sh OUT pixart restart, split the run in two)
  rm -rf "$cache" "$out/profiles" "$out/results.jsonl" "$out/results.md"
fi

{ if [ $cpu = 1 ]; then lscpu | grep -m1 "Model name" | sed 's/  */ /g'; nproc; else
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; fi
  $py -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)"
  date -u; } 2>&1 | tee "$out/device.txt"
{ echo "# bench/cuda.sh --device $device $parts, $(date -u +%F)"; echo; sed 's/^/    /' "$out/device.txt"; } \
  >>"$out/results.md"

if wants generation; then
  # the compiled calls fill the compile cache that the restart part starts from
  run "${limits[0]}" generation-small.log env TORCHINDUCTOR_CACHE_DIR="$cache" $py bench/generation.py "${sd[@]}" \
    "${small[@]}" "${common[@]}"
  if [ $cpu = 0 ]; then
    run "${limits[1]}" generation-middle.log $py bench/generation.py "${sd[@]}" "${middle[@]}" "${common[@]}"
    run "${limits[2]}" generation-large.log $py bench/generation.py "${sd[@]}" "${large[@]}" "${common[@]}"
  fi
fi

if wants pixart; then
  run "${limits[3]}" pixart.log $py bench/generation.py "${pixart[@]}" "${pixart_sizes[@]}" "${common[@]}"
fi

if wants restart; then
  run "${limits[4]}" restart.log $py bench/generation.py "${sd[@]}" --restart --compile-cache "$cache" \
    "${restart[@]}" "${common[@]}"
fi

if wants families; then
  # float32 without TF32, so that the GPU's pixels meet the tests' tolerance against diffusers on the CPU
  run 100 families.log env EVALSITE_DEVICE="$device" EVALSITE_DTYPE=float32 NVIDIA_TF32_OVERRIDE=0 \
    $py -m pytest -q -p no:cacheprovider tests/generation/test_families.py
fi

if wants metrics; then
  weights=()
  [ -e "${EVALSITE_INCEPTION_WEIGHTS:-/nonexistent}" ] || weights=(--random-inception "$EVALSITE_VAR_DIR/inception-random.pth")
  run 100 metrics.log $py bench/metrics.py --device "$device" --networks inception "${weights[@]}" \
    --sizes 1000 10000 --clip l14-shaped --clip-images 1000 --batch 64
fi
echo "results: $out/results.md, $out/results.jsonl"
exit $status
