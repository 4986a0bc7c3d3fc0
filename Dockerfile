# The Footfall image: the channel worker and the operator (one image, two entry points).
# The Triton server runs from NVIDIA's image with models/ mounted or baked in; it is not in this image.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
# OpenCV's FFmpeg backend is bundled in the wheel; nothing else from Debian is needed.
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin footfall
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config /app/config
COPY input/cameras_config /app/input/cameras_config
WORKDIR /app
USER 10001
# The journal must outlive the process, not the pod's root filesystem (read-only in the chart): an emptyDir.
ENV PYTHONUNBUFFERED=1 FOOTFALL_JOURNAL_DIR=/var/lib/footfall/journal FOOTFALL_HTTP_PORT=8080
EXPOSE 8080
ENTRYPOINT ["footfall-worker"]
