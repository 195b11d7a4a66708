# The ehc-timeliness application image: the API (`ehc api`) and the worker (`ehc worker`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# .dockerignore keeps out everything pip does not need (tests, var/, the venv, .git).
COPY . .
# Plain `.`: no dev extra (no Temporal dev server, no mail sink), no test tools.
RUN pip install . \
    && groupadd --system --gid 10001 ehc \
    && useradd --system --uid 10001 --gid ehc --home-dir /app --shell /usr/sbin/nologin ehc \
    && mkdir -p /app/var \
    && chown ehc:ehc /app/var

USER ehc

ENV EHC_ENVIRONMENT=production \
    EHC_DATA_DIR=/app/var \
    EHC_LOG_FORMAT=json \
    EHC_API_HOST=0.0.0.0 \
    EHC_WORKER_METRICS_HOST=0.0.0.0

EXPOSE 8000 9464

ENTRYPOINT ["ehc"]
CMD ["api"]
