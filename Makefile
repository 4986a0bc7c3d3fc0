# Footfall: the commands a developer and CI use. Every target installs and starts what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
DURATION ?= 0
CAMERAS ?= config/demo_store.json
RUN_LOGS ?= $(HOME)/.cache/footfall/run/workers
BENCH_PIPELINE_SECONDS ?= 600
# each of 1 and 4 channels on each of a real camera's streams (1080p H.264, 4 MP H.265, D1 sub-stream)
BENCH_CAMERA_SECONDS ?= 120

.PHONY: help venv lint eval services triton triton-install gstreamer cameras kube-install kube operator cluster cluster-down images test run bench soak chaos stop

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

venv:  ## the project venv (.venv), redone when pyproject.toml changes
	@hack/venv.sh

services:  ## PostgreSQL and Redis at the configured URLs, started or installed when needed
	@hack/services.sh up

triton-install:  ## the Triton server venv and binary, cached under ~/.cache/footfall
	@hack/triton.sh install

triton:  ## start Triton on 127.0.0.1 (gRPC 8001, HTTP 8000, metrics 8002) serving models/
	@hack/triton.sh start

gstreamer:  ## GStreamer's RTSP server from Debian, for the camera simulator
	@hack/install-gstreamer.sh

cameras: gstreamer  ## four simulated cameras on 127.0.0.1:8554-8557 (demo config)
	@hack/cameras.sh start-demo

kube-install:  ## kube-apiserver + kube-controller-manager (built once from Debian's source, ~7 min), etcd, kubectl, helm
	@hack/kube.sh install

kube: kube-install  ## a local control plane on 127.0.0.1:16443 (no kubelet); prints the KUBECONFIG
	@hack/kube.sh start

cluster: venv kube-install  ## a real single-node Kubernetes (kubelet, containerd, DNS, local volumes) on this machine; prints its KUBECONFIG
	@hack/cluster.sh up
	@hack/cluster.sh env

cluster-down:  ## stop the node and remove its pods, bridge and iptables rules (its state stays for the next `make cluster`)
	@hack/cluster.sh down

images:  ## build the footfall and triton-cpu images (podman, a Debian base built here) and load them into the node when it runs
	@hack/images.sh all

operator: venv kube  ## the operator against the local control plane (CRD applied first); Ctrl+C stops it
	@eval "$$(hack/kube.sh env)"; $(VENV)/bin/footfall-operator crd | kubectl apply -f - \
	  && FOOTFALL_OPERATOR_LOG_FORMAT=plain $(VENV)/bin/footfall-operator

lint: venv  ## ruff (lint, formatting) and import-linter (the module boundaries in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: venv lint services triton-install gstreamer kube-install  ## set everything up and run the tests
	@hack/install-chromium.sh
	@hack/install-prometheus.sh
	$(PY) -m pytest

run: venv services triton cameras  ## the whole pipeline on the demo store's 4 simulated cameras, live table; DURATION=s (0 = until Ctrl+C)
	@mkdir -p $(RUN_LOGS)
	$(VENV)/bin/footfall run --cameras $(CAMERAS) --duration $(DURATION) --log-dir $(RUN_LOGS)

bench: venv services triton gstreamer kube-install  ## print the numbers: inference, ingest, tracker vs peer, storage, the whole pipeline on 1 and 4 channels (demo footage; a real camera's 1080p H.264, 4 MP H.265 and D1 sub-stream), the operator on 1, 50 and 1 000 channels (idle API requests, restart, failover), reports over a 100-store chain's 30 days
	$(PY) bench/inference_bench.py
	$(PY) bench/pod_inference_bench.py --pod
	py=$$(hack/bench-venv.sh) && $$py bench/detector_levers_bench.py
	$(PY) bench/ingest_bench.py
	py=$$(hack/bench-venv.sh) && $$py bench/tracker_bench.py
	$(PY) bench/storage_bench.py
	$(PY) bench/analytics_bench.py
	$(PY) bench/crossing_bench.py
	$(PY) bench/hostile_input_bench.py
	$(PY) bench/pipeline_bench.py --channels 1,4 --seconds $(BENCH_PIPELINE_SECONDS)
	$(PY) bench/pipeline_bench.py --channels 1,4 --seconds $(BENCH_CAMERA_SECONDS) --streams 1080p-h264,4mp-h265,sub-d1
	$(PY) bench/operator_bench.py --channels 1,50,1000
	$(PY) bench/report_scale_bench.py --keep

CHAOS_MINUTES ?= 15
chaos: venv services triton gstreamer  ## faults (not in CI): 4 channels for CHAOS_MINUTES while cameras, PostgreSQL, Redis and Triton fail; rows produced vs committed
	$(PY) bench/chaos.py --minutes $(CHAOS_MINUTES) --json-out $(HOME)/.cache/footfall/chaos-last.json

SOAK_MINUTES ?= 60
soak: venv services triton gstreamer  ## endurance (not in CI): the store's 4 channels for SOAK_MINUTES; fps stability, RSS slope after warm-up
	$(PY) bench/pipeline_bench.py --channels 4 --seconds $$(( $(SOAK_MINUTES) * 60 )) --interval 30 --no-limit

EVAL_CLIP ?= input/footage/intel/store-aisle-detection.mp4
EVAL_OUT ?= $(HOME)/.cache/footfall/eval/results.txt
eval: venv triton  ## track EVAL_CLIP with Triton + ByteTrack, write MOT results (EVAL_GT=gt.txt scores them)
	@mkdir -p $(dir $(EVAL_OUT))
	$(VENV)/bin/footfall eval --clip $(EVAL_CLIP) --out $(EVAL_OUT) $(if $(EVAL_GT),--gt $(EVAL_GT))

stop:  ## stop the Triton server, simulated cameras and control plane started by make
	-@hack/triton.sh stop
	-@hack/cameras.sh stop-all
	-@hack/kube.sh stop
