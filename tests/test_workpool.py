"""The pool loop shared by train-runs and the notebook runner."""

import concurrent.futures as cf
import threading

from audiofuse.workpool import run_when_ready


def test_jobs_start_when_their_needs_are_done_and_never_more_than_the_workers():
    needs = {"a": set(), "b": set(), "c": {"a"}, "d": {"a", "b"}, "e": {"d"}}
    queue, done, events = list(needs), set(), []
    lock, live, most = threading.Lock(), [0], [0]

    def take_ready(running):
        ready = next((j for j in queue if needs[j] <= done), None)
        if ready is not None:
            queue.remove(ready)
        return ready

    def work(job):
        with lock:
            live[0] += 1
            most[0] = max(most[0], live[0])
        events.append(("start", job))
        with lock:
            live[0] -= 1
        return job.upper()

    def finished(job, future):
        assert future.result() == job.upper()
        done.add(job)
        events.append(("end", job))

    with cf.ThreadPoolExecutor(2) as pool:
        run_when_ready(pool, 2, take_ready, lambda pool, job: pool.submit(work, job), finished)
    assert done == set(needs) and most[0] <= 2
    ends = [job for kind, job in events if kind == "end"]
    for job, before in needs.items():
        start = events.index(("start", job))
        assert all(events.index(("end", b)) < start for b in before), (job, events)
    assert ends[-1] == "e"


def test_a_job_that_is_never_ready_stops_the_loop_instead_of_hanging():
    calls = []

    def take_ready(running):
        calls.append(list(running))
        return None

    with cf.ThreadPoolExecutor(1) as pool:
        run_when_ready(pool, 1, take_ready, lambda pool, job: pool.submit(str, job), None)
    assert calls == [[]]
