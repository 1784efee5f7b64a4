#!/usr/bin/env bash
# Benchmark of the HTTP service: builds skiff in release mode and runs `skiff bench serve` on the
# SROIE dev receipts: requests/s and p50/p99 latency of POST /v1/extract (Tesseract engine, the
# service's default two OCR passes) on a real loopback server, next to the same pages through the
# same pipelines without HTTP, in the same run.
#   usage: tools/bench_serve.sh [REQUESTS] [CONCURRENCY] [JOBS]   (default 120 requests, 4 connections, 2 workers)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# SKIFF=path/to/skiff uses a release binary already built.
if [ -z "${SKIFF:-}" ]; then
  swift build -c release --product skiff >/dev/null
  SKIFF=.build/release/skiff
fi
"$SKIFF" bench serve ../shared/data/sroie-dev/img --requests "${1:-120}" --concurrency "${2:-4}" --jobs "${3:-2}"
