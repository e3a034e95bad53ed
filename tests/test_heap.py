"""The processes that prepare records keep what they imported out of the cyclic collector's
passes (app.heap): without it, an eighth to a quarter of their time went to collections that
found nothing."""

import gc

from app import apart, heap


def _frozen_objects(_: int) -> int:
    return gc.get_freeze_count()


def test_a_preparing_process_freezes_what_it_imported_before_its_first_piece() -> None:
    with apart.preparer(True) as prepare:
        frozen = [count for _, count in apart.in_order(prepare, _frozen_objects, range(4))]
    # This module, app.apart and what they import: thousands of objects in every process.
    assert min(frozen) > 1_000


def test_settling_twice_freezes_once() -> None:
    heap.settle()
    frozen = gc.get_freeze_count()
    kept = [[n] for n in range(1_000)]  # tracked objects made after the first settle
    heap.settle()
    assert gc.get_freeze_count() == frozen
    assert kept
