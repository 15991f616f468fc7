"""The Celery application: `celery -A worker worker`."""

from worker.celery import app

__all__ = ["app"]
