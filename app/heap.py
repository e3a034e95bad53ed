"""The cyclic garbage collector kept off what a long-running process holds from its start.

CPython's cyclic collector traverses every tracked object of the generations it collects, and a
full collection happens every few hundred thousand allocations. This program's imports alone
(SQLAlchemy, FastAPI, pydantic, the models) leave about 100,000 tracked objects, none of them
ever garbage, and the mirror's, the loader's and the API's per-record work allocates many
dicts and lists: a mirror's preparing process spent from an eighth to a quarter of its time in
collections that found nothing (docs/PERFORMANCE.md, "Sync"). Freezing what is alive
once the program is set up moves it out of the collector's sight; what is made later is still
collected as before.
"""

import gc

_settled = False


def settle() -> None:
    """Keep every object alive now out of the cyclic collector's future passes (`gc.freeze`).
    Called once set up, before the long work. Reference counting still frees a frozen object
    that is let go; only a reference cycle among frozen objects would never be collected, so
    this is for a program set up to run, not in the middle of work that makes cycles. Only
    the first call in a process freezes (a test process makes many apps: the later ones' end
    would otherwise leave frozen cycles behind)."""
    global _settled
    if not _settled:
        gc.freeze()
        _settled = True
