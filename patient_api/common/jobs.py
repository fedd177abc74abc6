"""The worker's RQ queue. A feature queues a job by its entry point's dotted name in patient_api.worker, since
the worker imports every feature and a feature importing it back would close a cycle."""
from rq import Queue

from ..extensions import redis

QUEUE = "patient_api"


def enqueue(entry_point, *args):
    """Queue patient_api.worker.`entry_point`(*args); raises redis.RedisError when Redis is unreachable."""
    return Queue(QUEUE, connection=redis.client).enqueue(f"patient_api.worker.{entry_point}", *args)
