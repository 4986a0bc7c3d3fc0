# Footfall's images, from one build context (the repository root; see .dockerignore):
#
#   docker build -t footfall:0.1.0 .                                      # default target `footfall` (last stage)
#   docker build --target triton-cpu -t footfall-triton-cpu:0.1.0 .
#   docker build --target triton-gpu -t footfall-triton-gpu:0.1.0 .                 # needs nvcr.io access
#
# footfall     the channel worker and the operator: one venv, two entry points. ENTRYPOINT is footfall-worker
#              (what the operator's worker Deployments run); the operator's own Deployment sets
#              command: ["footfall-operator"].
# triton-cpu   Triton Inference Server 2.51 on CPU serving models/ (weights baked in from the repository): the
#              same tritonserver, python backend stub, venv and library path as hack/triton.sh.
# triton-gpu   NGC's tritonserver (same 2.51 release) with onnxruntime-gpu in its python backend, serving the
#              same models/ with the CUDA execution provider first and GPU instances (the chart's values-gpu.yaml).
#
# Both run as uid/gid 10001 (numeric, so runAsNonRoot can check it) and work with readOnlyRootFilesystem: the
# only writes are to /tmp and, for the worker, the journal volume. tests/image checks this file against
# pyproject.toml, hack/ and the operator's defaults.

# BASE: a Debian bookworm image with Python 3.11 and `python` on PATH. The public slim image by default; where no
# registry is reachable, hack/images.sh passes one debootstrapped from Debian's own packages.
ARG BASE=python:3.11-slim-bookworm

# ---- build: the project and its runtime dependencies (pyproject's `dependencies`, no extras) in /opt/footfall
FROM ${BASE} AS build
WORKDIR /src
# The dependencies (pyproject's list, read by the interpreter itself) in a layer of their own: a change to the
# code or the README alone then rebuilds in seconds, not the minute the wheels take.
COPY pyproject.toml ./
RUN python -m venv /opt/footfall \
    && python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep=chr(10))" \
       > /tmp/requirements.txt \
    && /opt/footfall/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt
# pyproject.toml names README.md as the readme; the packages are found under contract/, worker/ and operator/.
COPY README.md ./
COPY contract ./contract
COPY worker ./worker
COPY operator ./operator
RUN /opt/footfall/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps .

# ---- triton-build: hack/requirements-triton.txt in /opt/triton, the server laid out in /opt/tritonserver
FROM ${BASE} AS triton-build
COPY hack/requirements-triton.txt hack/triton-assemble.sh /tmp/triton/
RUN python -m venv /opt/triton \
    && /opt/triton/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/triton/requirements-triton.txt \
    && /tmp/triton/triton-assemble.sh /opt/triton /opt/tritonserver

# ---- triton-cpu: docker build --target triton-cpu -t footfall-triton-cpu:0.1.0 .
FROM ${BASE} AS triton-cpu
LABEL org.opencontainers.image.title="footfall-triton-cpu" \
      org.opencontainers.image.description="Triton Inference Server (CPU, python backend + onnxruntime) serving Footfall's models" \
      org.opencontainers.image.version="0.1.0"
# Licences of the server and the bundled weights: /models/NOTICE.md and the wheels' own metadata.
# Nothing from Debian: tritonserver needs only glibc, libstdc++, libgcc_s and zlib beside the wheel's own
# libraries, and the stub needs libpython3.11 (/usr/local/lib in this base).
RUN groupadd --gid 10001 footfall \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin footfall
COPY --from=triton-build /opt/triton /opt/triton
COPY --from=triton-build /opt/tritonserver /opt/tritonserver
# The whole model repository: config.pbtxt, model.py and the weights, as committed (nothing is downloaded).
COPY models /models
# As hack/triton.sh starts it: the wheel's bundled libraries, then this interpreter's libpython (LIBDIR); the
# venv's bin first on PATH, through which the python backend stub's interpreter finds the venv's packages.
ENV LD_LIBRARY_PATH=/opt/triton/lib/python3.11/site-packages/nvidia_pytriton.libs:/usr/local/lib \
    PATH=/opt/triton/bin:/opt/tritonserver/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /tmp
USER 10001
# HTTP, gRPC, metrics. Kubernetes probes /v2/health/live and /v2/health/ready on 8000.
EXPOSE 8000 8001 8002
HEALTHCHECK NONE
# Extra flags (e.g. --model-control-mode=explicit) go in the container's args.
ENTRYPOINT ["tritonserver", "--model-repository=/models", \
            "--backend-directory=/opt/tritonserver/backends", "--cache-directory=/opt/tritonserver/caches", \
            "--grpc-address=0.0.0.0", "--grpc-port=8001", "--http-address=0.0.0.0", "--http-port=8000", \
            "--metrics-address=0.0.0.0", "--metrics-port=8002", "--log-verbose=0"]

# ---- triton-gpu: docker build --target triton-gpu -t footfall-triton-gpu:0.1.0 .
# 24.10 is Triton 2.51, the release the CPU image and the tests run; its python backend runs Python 3.10.
FROM nvcr.io/nvidia/tritonserver:24.10-py3 AS triton-gpu
LABEL org.opencontainers.image.title="footfall-triton-gpu" \
      org.opencontainers.image.description="Triton Inference Server (GPU, python backend + onnxruntime-gpu) serving Footfall's models" \
      org.opencontainers.image.version="0.1.0"
COPY hack/requirements-triton-gpu.txt /tmp/requirements-triton-gpu.txt
RUN pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements-triton-gpu.txt \
    && groupadd --gid 10001 footfall \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin footfall
COPY models /models
# The same repository, on the GPU: CUDA first (CPU stays as onnxruntime's fallback), GPU instances.
RUN sed -i -e 's/string_value: "CPUExecutionProvider"/string_value: "CUDAExecutionProvider,CPUExecutionProvider"/' \
           -e 's/kind: KIND_CPU/kind: KIND_GPU/' /models/*/config.pbtxt
ENV HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /tmp
USER 10001
EXPOSE 8000 8001 8002
HEALTHCHECK NONE
ENTRYPOINT ["tritonserver", "--model-repository=/models", "--cache-directory=/tmp/triton-cache", \
            "--grpc-address=0.0.0.0", "--grpc-port=8001", "--http-address=0.0.0.0", "--http-port=8000", \
            "--metrics-address=0.0.0.0", "--metrics-port=8002", "--log-verbose=0"]

# ---- footfall (default): docker build -t footfall:0.1.0 .
FROM ${BASE} AS footfall
LABEL org.opencontainers.image.title="footfall" \
      org.opencontainers.image.description="Footfall channel worker (footfall-worker) and operator (footfall-operator)" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="LicenseRef-Proprietary"
# Nothing from Debian: opencv-python-headless, grpcio, psycopg2-binary and numpy bundle their libraries and need
# only glibc, libstdc++, libgcc_s and zlib, all in this base (no libGL, no GLib for the headless build).
# The journal directory is an emptyDir in Kubernetes; owned by 10001 here so `docker run` works too.
RUN groupadd --gid 10001 footfall \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin footfall \
    && mkdir -p /var/lib/footfall/journal \
    && chown 10001:10001 /var/lib/footfall/journal
COPY --from=build /opt/footfall /opt/footfall
# LOGNAME: kopf names the operator's peer after getpass.getuser(), which then needs no /etc/passwd entry (a
# cluster may run the image under another uid).
ENV PATH=/opt/footfall/bin:$PATH \
    HOME=/tmp \
    LOGNAME=footfall \
    FOOTFALL_JOURNAL_DIR=/var/lib/footfall/journal \
    FOOTFALL_HTTP_PORT=8080 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /tmp
USER 10001
# /healthz /readyz /metrics /status (the operator's Deployments probe it).
EXPOSE 8080
HEALTHCHECK NONE
# The worker; the operator's Deployment overrides it with command: ["footfall-operator"].
ENTRYPOINT ["footfall-worker"]
