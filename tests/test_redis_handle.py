"""One Redis client per process, however many threads ask for it first (a second one, dropped, closed the pool a
request was reading from: EBADF, answered 503 — seen once or twice per bench run at a gunicorn worker's start)."""
import threading
import time

from patient_api.extensions import RedisHandle

THREADS = 8


def test_the_first_requests_of_a_process_share_one_client(monkeypatch):
    handle = RedisHandle()
    made, asked = [], []

    def slow_connect(config):
        # Connecting lasts until every thread has asked for the client (bounded): the window the others slipped
        # through, each making a client of its own.
        deadline = time.monotonic() + 5
        while len(asked) < THREADS and time.monotonic() < deadline:
            time.sleep(0.001)
        made.append(object())
        return made[-1]
    monkeypatch.setattr(RedisHandle, "_connect", staticmethod(slow_connect))
    start, got = threading.Barrier(THREADS), []

    def first_request():
        start.wait()
        asked.append(True)
        got.append(handle.client)
    threads = [threading.Thread(target=first_request) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(made) == 1
    assert len(got) == THREADS and all(client is made[0] for client in got)
    assert handle.client is made[0]  # and later requests keep it
