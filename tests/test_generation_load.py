"""The generator on a busy machine: one worker, admission control, a deadline for the whole
turn, threads that follow the free cores (bot.generation.worker / threads / generator)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from benchmarks.load.background import cpu_hogs
from bot.generation import guards
from bot.generation.config import GeneratorConfig
from bot.generation.generator import BUSY, RESULT_SLACK_S, ReplyGenerator
from bot.generation.model import base_for_inference, load_tokenizer
from bot.generation.prompt import USER, DialogueContext, Turn
from bot.generation.threads import LoadMeter, threads_for
from bot.generation.worker import GenerationWorker

FALLBACK = "Sorry, I didn't quite get that. Could you rephrase?"


def _context(text: str = "What did you do this weekend?") -> DialogueContext:
    return DialogueContext("ana", [Turn(USER, text)])


@pytest.fixture(scope="module")
def model():
    config = GeneratorConfig()
    return base_for_inference(config), load_tokenizer(config.base_model)


def _generator(model, worker: GenerationWorker, **settings) -> ReplyGenerator:
    config = GeneratorConfig(**{"max_new_tokens": 6, "time_budget_s": 60.0, **settings})
    return ReplyGenerator(model[0], model[1], config, FALLBACK, worker=worker)


def _occupy(worker: GenerationWorker) -> threading.Event:
    """Keep the worker on a job that ignores every deadline until the event is set."""
    release = threading.Event()
    assert worker.submit(lambda job: release.wait(30), max_waiting=1) is not None
    while worker.waiting:  # until the worker has taken it
        time.sleep(0.01)
    return release


@pytest.mark.parametrize(
    "others_busy, cores, most, threads",
    [
        (0.0, 2, 2, 2),    # idle 2-core machine: both cores
        (0.2, 2, 2, 2),    # a little background noise does not cost a core
        (0.4, 2, 2, 1),    # a process using 40% of a core takes that core
        (1.0, 2, 2, 1),    # the case: one CPU-bound process
        (3.0, 2, 2, 1),    # never fewer than one
        (0.0, 16, 2, 2),   # num_threads caps it
        (5.0, 16, 0, 11),  # 0: every free core
    ],
)
def test_thread_choice_follows_the_free_cores(others_busy, cores, most, threads) -> None:
    assert threads_for(others_busy, cores, most) == threads


def test_load_meter_counts_other_processes_not_this_one() -> None:
    clock, system, own = [0.0], [100.0], [10.0]
    meter = LoadMeter(window_s=2.0, system=lambda: system[0], own=lambda: own[0], clock=lambda: clock[0])
    for _ in range(4):  # 2 s in which the machine was busy 3 CPU-seconds, 1 of them ours
        clock[0] += 0.5
        system[0] += 0.75
        own[0] += 0.25
        meter.sample()
    assert meter.others_busy() == pytest.approx(1.0)
    for _ in range(8):  # then 4 s of our own work only: the old samples leave the window
        clock[0] += 0.5
        system[0] += 0.5
        own[0] += 0.5
        meter.sample()
    assert meter.others_busy() == pytest.approx(0.0)


def test_load_meter_sees_a_real_background_process() -> None:
    with cpu_hogs(1) as (hog,):
        stat = Path(f"/proc/{hog.pid}/stat")
        hog_cpu = lambda: sum(int(v) for v in stat.read_text().rsplit(")", 1)[1].split()[11:13])  # noqa: E731
        start_cpu, start = hog_cpu() / os.sysconf("SC_CLK_TCK"), time.monotonic()
        meter = LoadMeter(window_s=10.0)  # the same 2 s as the process's own count
        for _ in range(8):
            time.sleep(0.25)
            meter.sample()
        hog_rate = (hog_cpu() / os.sysconf("SC_CLK_TCK") - start_cpu) / (time.monotonic() - start)
        seen = meter.others_busy()
    assert hog_rate > 0.1, "the background process did not run"
    assert seen >= hog_rate - 0.05  # what else the machine did comes on top, never less


def test_a_full_queue_answers_busy_at_once(model) -> None:
    worker = GenerationWorker()
    generator = _generator(model, worker, max_waiting_replies=1)
    release = _occupy(worker)
    try:
        queued = worker.submit(lambda job: None, max_waiting=1)  # the one place in the queue
        reply = generator.reply(_context())
        assert reply.fallback_reason == BUSY and reply.text == generator.config.busy_text
        assert reply.seconds < 0.05 and reply.new_tokens == 0
    finally:
        release.set()
    queued.future.result(timeout=10)
    assert generator.reply(_context()).generated  # and it answers again once free


def test_the_budget_covers_the_wait_for_a_stalled_worker(model) -> None:
    worker = GenerationWorker()
    generator = _generator(model, worker, time_budget_s=0.5)
    release = _occupy(worker)
    try:
        start = time.monotonic()
        reply = generator.reply(_context())
        elapsed = time.monotonic() - start
    finally:
        release.set()
    assert reply.fallback_reason == guards.TIMEOUT and reply.text == FALLBACK
    assert 0.5 <= elapsed <= 0.5 + RESULT_SLACK_S + 0.1


def test_the_budget_covers_a_slow_prefill(model) -> None:
    """3,000 prompt tokens take seconds to read on 2 cores: the turn still ends in its budget."""
    worker = GenerationWorker()
    generator = _generator(model, worker, time_budget_s=0.5, max_prompt_tokens=4096, max_new_tokens=40)
    long_message = "Tell me everything about the history of tea, " * 300
    for attempt in range(2):  # first with no speed estimate, then with one
        start = time.monotonic()
        reply = generator.reply(_context(long_message))
        elapsed = time.monotonic() - start
        assert reply.fallback_reason == guards.TIMEOUT, attempt
        assert reply.prompt_tokens > 2500 and reply.new_tokens == 0
        assert elapsed <= 0.5 + RESULT_SLACK_S + 0.1, attempt
    # Known speed: a prefill that cannot finish is not started (the wait is for the first
    # attempt's chunk, which the worker finishes after its caller has given up).
    assert reply.seconds - reply.waited_s < 0.1


def test_concurrent_replies_are_generated_one_at_a_time(model) -> None:
    worker = GenerationWorker()
    generator = _generator(model, worker, max_waiting_replies=3)
    spans, original = [], generator._generate

    def timed(messages):
        begin = time.monotonic()
        try:
            return original(messages)
        finally:
            spans.append((begin, time.monotonic()))

    generator._generate = timed
    replies = []
    callers = [threading.Thread(target=lambda: replies.append(generator.reply(_context()))) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(spans) == 3 and all(r.generated for r in replies)
    spans.sort()
    assert all(end <= next_begin for (_, end), (next_begin, _) in zip(spans, spans[1:]))
    assert max(r.waited_s for r in replies) > 0  # someone waited for the worker
