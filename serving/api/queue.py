"""A bounded queue in front of the one thread that answers questions.

Answers are computed one at a time on a worker thread, off the event loop: the local model
generates one answer at a time anyway (``LocalGenerator`` holds a lock) and a ``PgStore``
connection is not shared across threads. ``max_queue`` more requests may wait; beyond that
``AnswerQueue.run`` refuses at once (the API answers 503 with Retry-After) rather than letting
latency grow without bound. When a client goes away its request is cancelled: dropped if it
is still waiting, or stopped at the next generated piece of text (``CancellableGenerator``
generates through the model's stream for that), so its slot frees within a token.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import TypeVar

from maint.errors import MaintError
from serving.answering.answer import GeneratorPool
from serving.answering.generate import Generation, Generator, Message
from serving.answering.schema import Mode

T = TypeVar("T")

# Set on the worker thread for the job it runs: the request's "stop" flag.
_cancel_flag: ContextVar[threading.Event | None] = ContextVar("maint_cancel", default=None)


class QueueFull(MaintError):
    """Every slot is taken; try again after ``retry_after_s``."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"answer queue full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class GenerationCancelled(MaintError):
    """The client went away; its answer was abandoned."""


class CancellableGenerator:
    """Wraps a generator so that a cancelled request stops generating at the next piece.

    With a cancel flag set (inside ``AnswerQueue.run``) it generates through ``stream``, which
    ends the model's generation when the reader stops reading; joined, the pieces equal
    ``generate``'s text. Token counts are then counted on the text (a re-tokenisation).
    """

    def __init__(self, inner: Generator):
        self.inner = inner
        self.name = inner.name
        self.adapter = inner.adapter

    def generate(
        self,
        messages: list[Message],
        max_new_tokens: int | None = None,
        numbers_from: Sequence[str] | None = None,
    ) -> Generation:
        cancel = _cancel_flag.get()
        if cancel is None or numbers_from is not None:  # a constrained lead-in is short
            return self.inner.generate(messages, max_new_tokens, numbers_from)
        if cancel.is_set():
            raise GenerationCancelled
        started = time.perf_counter()
        pieces: list[str] = []
        stream = self.inner.stream(messages, max_new_tokens)
        try:
            for piece in stream:
                pieces.append(piece)
                if cancel.is_set():
                    raise GenerationCancelled
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # stops the model's generation thread
        text = "".join(pieces).strip()
        prompt = sum(self.inner.count_tokens(m.get("content", "")) for m in messages)
        seconds = time.perf_counter() - started
        return Generation(text, prompt, self.inner.count_tokens(text), seconds, self.inner.name)

    def stream(self, messages: list[Message], max_new_tokens: int | None = None) -> Iterator[str]:
        return self.inner.stream(messages, max_new_tokens)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


class CancellablePool(GeneratorPool):
    """A ``GeneratorPool`` whose generators stop when their request is cancelled. Models stay
    loaded in the wrapped pool, so several apps (tests) can share one loaded model."""

    def __init__(self, inner: GeneratorPool):
        super().__init__(inner.settings, inner.factory)
        self.inner = inner

    def adapter_for(self, mode: Mode, adapter: str | None) -> str | None:
        return self.inner.adapter_for(mode, adapter)

    def get(self, adapter: str | None) -> Generator:
        return CancellableGenerator(self.inner.get(adapter))


class AnswerQueue:
    """One worker thread; at most ``1 + max_queue`` requests admitted at a time."""

    def __init__(self, max_queue: int, poll_s: float = 0.2):
        self.capacity = 1 + max_queue
        self.poll_s = poll_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maint-answer")
        self._lock = threading.Lock()
        self._in_flight = 0
        self._mean_s = 5.0  # moving average of a job's seconds, for Retry-After

    @property
    def in_flight(self) -> int:
        """Requests being answered or waiting."""
        return self._in_flight

    def retry_after_s(self) -> int:
        """About when a slot frees: one answer's time."""
        return max(1, math.ceil(self._mean_s))

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _timed(self, seconds: float) -> None:
        self._mean_s = 0.8 * self._mean_s + 0.2 * seconds

    async def run(
        self, fn: Callable[[], T], is_disconnected: Callable[[], Awaitable[bool]] | None = None
    ) -> T:
        """``fn()`` on the worker thread. Raises ``QueueFull`` when every slot is taken and
        ``GenerationCancelled`` when ``is_disconnected`` says the client went away."""
        with self._lock:
            if self._in_flight >= self.capacity:
                raise QueueFull(self.retry_after_s())
            self._in_flight += 1
        cancel = threading.Event()

        def job() -> T:
            token = _cancel_flag.set(cancel)
            started = time.perf_counter()
            try:
                return fn()
            finally:
                _cancel_flag.reset(token)
                if not cancel.is_set():
                    self._timed(time.perf_counter() - started)

        try:
            future = self._executor.submit(job)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        waiter = asyncio.wrap_future(future)
        # An abandoned job's late exception is expected, not "never retrieved".
        waiter.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=self.poll_s)
                if done:
                    return waiter.result()
                if is_disconnected is not None and await is_disconnected():
                    raise GenerationCancelled
        except BaseException:  # disconnected, or the request task itself was cancelled
            if not future.cancel():  # already running: stop it at the next token
                cancel.set()
            raise

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
