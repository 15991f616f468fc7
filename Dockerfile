# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONVENE_VAR_DIR=/app/var

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements/base.txt requirements/base.txt
RUN pip install --no-cache-dir uv && uv pip install --system --no-cache --compile-bytecode -r requirements/base.txt

COPY package.json ./
RUN npm install --no-audit --no-fund --no-package-lock --omit=dev

COPY . .
RUN DJANGO_DEBUG=1 python manage.py collectstatic --noinput -v0 \
    && useradd --system --uid 1000 convene \
    && mkdir -p /app/var && chown -R convene /app/var

USER convene
EXPOSE 8000
# As `make bench` measures it: threads keep connections alive, and with a listening socket per
# worker (--reuse-port) the kernel spreads them over the workers.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--worker-class", "gthread", "--threads", "4", "--keep-alive", "10", "--reuse-port", \
     "--access-logfile", "-"]
