from __future__ import annotations

import pytest

from notifications import services


@pytest.fixture
def published():
    """The delivery tasks Celery really publishes (its before_task_publish signal): (task, args)."""
    from celery.signals import before_task_publish

    sent: list[tuple[str, list]] = []

    def record(sender=None, body=None, **kwargs):
        if sender in (services.DELIVER_TASK, services.DELIVER_CHUNK_TASK):
            sent.append((sender, body[0]))  # protocol 2: (args, kwargs, embed)

    services.broker_breaker.reset()
    before_task_publish.connect(record, weak=False)
    yield sent
    services.dispatch_batcher.flush()  # nothing of this test's is published during the next one
    before_task_publish.disconnect(record)
    services.broker_breaker.reset()
