#!/usr/bin/env bash
# Run every GPU check and GPU benchmark of the cuda_timing topic; write a JSON report.
#   scripts/gpu_check.sh [REPORT.json]      (default: gpu_report.json)
# Without CUDA it exits 0 with a report that says "no CUDA device". About 2-3 minutes on an H100.
set -u
cd "$(dirname "$0")/.."
out="${1:-gpu_report.json}"
log="$(mktemp)"
if python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  timeout 240 python -m pytest -q -p no:cacheprovider -m gpu tests/topics/test_cuda_timing_gpu.py >"$log" 2>&1
  rc=$?
  timeout 300 python scripts/gpu_report.py "$out" --pytest-rc "$rc" --pytest-log "$log"
else
  python scripts/gpu_report.py "$out"
fi
status=$?
rm -f "$log"
echo "report: $out"
exit $status
