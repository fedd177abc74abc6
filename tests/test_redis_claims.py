"""Test runs sharing one Redis server (CI starts three at once) each get a database of their own and keep it."""
import os

from .conftest import _claim_redis_db, _release_claim


def number(client):
    return client.connection_pool.connection_kwargs["db"]


def test_runs_never_share_a_database_even_right_after_a_flush(redis_client):
    url = os.environ.get("REDIS_URL") or f"unix://{redis_client.socket_file}?db=0"
    first = _claim_redis_db(url)
    claimed = [first]
    try:
        first.flushdb()  # every test flushes its run's database: the claim must survive it
        claimed.append(_claim_redis_db(url))  # a run starting at that moment
        claimed.append(_claim_redis_db(url))
        numbers = [number(client) for client in claimed]
        assert len(set(numbers)) == 3 and set(numbers) <= set(range(10, 16))
        if os.environ.get("REDIS_URL"):
            assert number(redis_client) not in numbers  # nor this run's own
    finally:
        for client in claimed:
            _release_claim(client)
    again = _claim_redis_db(url)  # released: free for the next run
    try:
        assert number(again) == max(numbers)
    finally:
        _release_claim(again)
