# App image shared by the web, relay, worker, beat and migrate services (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app

# Dependencies first, so code changes don't invalidate this (slow) layer.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

USER app
EXPOSE 8000
# Workers and threads as gunicorn.conf.py sets them (WEB_WORKERS, WEB_THREADS).
CMD ["gunicorn", "ecommerce.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
