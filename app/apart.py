"""CPU-bound work done in other processes, in order, a bounded distance ahead of its consumer.

`scn mirror` and `scn synth` write in one process (one transaction) and hand the rest of each
record's work (content hash, search entry, rendered documents) to PREPARERS others: on this
project's 2-core machines that uses both cores, where one process left one idle.
"""

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from functools import partial
from typing import Any, TypeVar

from app import heap

WORTH_FROM = 20_000
"""Records from which working apart pays: below it, starting the processes (about 2 s of
imports) costs more than it saves."""
PREPARERS = 2  # processes preparing records (the writer is a third, lighter, process)
AHEAD = 8  # pieces sent ahead of the consumer: the queue, and memory, stay bounded

Piece = TypeVar("Piece")
Result = TypeVar("Result")
Tag = TypeVar("Tag")


class Inline(Executor):
    """Work done in this process, when the data is too small for another to pay off."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> "Future[Any]":
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # raised again where the result is read, as a pool does
            done.set_exception(exc)
        return done


def preparer(apart: bool) -> Executor:
    """Processes to work in (`apart`), or this one. A program that uses them needs an
    `if __name__ == "__main__":` guard: they are spawned, not forked, because the caller holds
    a database connection and may run threads."""
    if not apart:
        return Inline()
    return ProcessPoolExecutor(PREPARERS, mp_context=multiprocessing.get_context("spawn"))


def in_order(
    executor: Executor, work: Callable[[Piece], Result], pieces: Iterable[Piece]
) -> Iterator[tuple[Piece, Result]]:
    """Each piece with the result of `work` on it, in order, computed by `executor` up to
    AHEAD pieces ahead of the caller."""
    return tagged_in_order(executor, work, ((piece, piece) for piece in pieces))


def tagged_in_order(
    executor: Executor, work: Callable[[Piece], Result], pieces: Iterable[tuple[Tag, Piece]]
) -> Iterator[tuple[Tag, Result]]:
    """`in_order` for pieces that come with a tag (what the caller needs to know of each,
    which `work` does not get: it is not sent to another process)."""
    pending: deque[tuple[Tag, Future[Result]]] = deque()
    if not isinstance(executor, Inline):
        work = partial(_settled_first, work)
    for tag, piece in pieces:
        pending.append((tag, executor.submit(work, piece)))
        if len(pending) >= AHEAD:
            done, results = pending.popleft()
            yield done, results.result()
    while pending:
        done, results = pending.popleft()
        yield done, results.result()


def _settled_first(work: Callable[[Piece], Result], piece: Piece) -> Result:
    """`work(piece)` in a preparing process, which first settles (app.heap) what it has
    imported to do that work (by the time this runs, unpickling `work` has imported it)."""
    heap.settle()
    return work(piece)
