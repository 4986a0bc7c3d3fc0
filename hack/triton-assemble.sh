#!/usr/bin/env bash
# triton-assemble.sh VENV DEST: lay out the standalone tritonserver from VENV (holding hack/requirements-triton.txt)
# at DEST. One place for the layout that hack/triton.sh (the local server) and the Dockerfile's triton-cpu image
# both use; tests/image checks that they do.
#
# The nvidia-pytriton wheel ships tritonserver (bin/, backends/python/, caches/) under pytriton/tritonserver and
# one python backend stub per Python version; the python backend needs the stub built for VENV's interpreter
# next to libtriton_python.so.
set -euo pipefail
venv=$1 dest=$2
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
pyver=$("$venv/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
cp -r "$site/pytriton/tritonserver/." "$dest.tmp/"
cp "$dest.tmp/python_backend_stubs/$pyver/triton_python_backend_stub" "$dest.tmp/backends/python/"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
