"""Real brokers for the worker tests; a broker that cannot be reached fails the test, never skips it."""

import os
import socket

import amqp
import pytest
import redis

from evalsite.celery import app

from .worker import point_app_at

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def redis_url():
    """An empty Redis database for the test."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable: {exc}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def redis_broker(redis_url):
    """This process's tasks go to Redis."""
    point_app_at(app, redis_url, {})
    yield redis_url
    point_app_at(app, "memory://", {})


@pytest.fixture
def rabbitmq():
    """This process's tasks go to RabbitMQ, which re-queues a killed consumer's unacknowledged task at once."""
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"RabbitMQ at {AMQP_URL} is not reachable: {exc}")
    with app.connection_for_write(AMQP_URL) as connection:
        try:
            connection.default_channel.queue_purge("gpu")
        except amqp.exceptions.NotFound:
            pass  # no queue yet: nothing left over
    point_app_at(app, AMQP_URL, {})
    yield AMQP_URL
    point_app_at(app, "memory://", {})
