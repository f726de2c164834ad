# dockstate as a container: the web UI built in a node stage, the wheel built and installed in
# a slim Python stage, run as a non-root user that the entrypoint adds to the Docker socket's
# group.
#
#   docker build -t dockstate .
#   docker run -d --name dockstate -p 127.0.0.1:8765:8765 \
#     -v /var/run/docker.sock:/var/run/docker.sock -v dockstate:/data dockstate
#   docker logs dockstate        # prints the URL to open, with its token
#
# The bases are build arguments: the public node:20-slim and python:3.11-slim by default;
# scripts/image builds from Debian bases it makes itself (no registry needed).
ARG NODE_IMAGE=node:20-slim
ARG PYTHON_IMAGE=python:3.11-slim

# ---- the web UI: npm ci && npm run build (into src/dockstate/web_dist) ----
FROM ${NODE_IMAGE} AS ui
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN mkdir -p ../src/dockstate && npm run build

# ---- the wheel, with the UI inside ----
FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY src/ src/
COPY --from=ui /src/src/dockstate/web_dist/ src/dockstate/web_dist/
RUN python3 -m venv /tmp/build \
 && /tmp/build/bin/pip install --no-cache-dir --quiet --disable-pip-version-check build \
 && /tmp/build/bin/python -m build --wheel --outdir /wheels .

# ---- the image: the wheel in a virtualenv, nothing else ----
FROM ${PYTHON_IMAGE}
COPY --from=wheel /wheels/ /tmp/wheels/
RUN python3 -m venv /opt/dockstate \
 && /opt/dockstate/bin/pip install --no-cache-dir --quiet --disable-pip-version-check /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels \
 && groupadd --system --gid 10001 dockstate \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin dockstate \
 && mkdir -p /data && chown dockstate:dockstate /data && chmod 700 /data
COPY docker/entrypoint.py /usr/local/bin/dockstate-entrypoint
ENV PATH=/opt/dockstate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DOCKSTATE_PORT=8765 \
    DOCKSTATE_DB=/data/dockstate.db
# The state database (the change log and every Docker event) lives in this volume.
VOLUME /data
EXPOSE 8765
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/opt/dockstate/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('DOCKSTATE_PORT', '8765'), timeout=4)"]
# Starts as root only to join the socket's group and own /data, then runs as dockstate (10001).
ENTRYPOINT ["/opt/dockstate/bin/python", "/usr/local/bin/dockstate-entrypoint"]
