"""Handing memory that has been freed back to the operating system.

glibc's allocator keeps freed memory inside the process for reuse: the arrays of a
network's build, and the compiler's or program loader's working memory (on the threads
of JAX's runtime, each with a heap of its own), stay counted in the process's resident
memory until something else reuses them, and the run that follows then needs more.
:func:`release` returns them (``malloc_trim``) after the first build of the process and
after the first run that compiled or loaded a program: W1 on 2 cores (programs from the
compile cache), peak resident memory 391 -> 361-368 MiB. Only once each: memory
returned is faulted in again when it is needed again, as by a later build or compile
(a sweep of 12 small networks, each compiled, seemed 4-11 % slower with a release after
every build and compile, though within this machine's noise), and after every ``run()``
300 runs of 1 ms took 2.3-2.8 times as long.

``PYNN_LEAKY_RELEASE_MEMORY=0`` turns it off. Elsewhere than glibc (macOS, musl) it does
nothing.
"""

import ctypes

ENV = "PYNN_LEAKY_RELEASE_MEMORY"
_trim = []  # [function or None], found at the first call
_released = set()  # the names of the once-only releases done


def _find_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only
    except (AttributeError, OSError):
        return None


def release(once=None):
    """Return the memory freed so far to the operating system (if this libc can); with a
    name ``once``, only at the first call of that name in the process."""
    if once is not None:
        if once in _released:
            return
        _released.add(once)
    if not _trim:
        from ._build import _env_switch

        _trim.append(_find_trim() if _env_switch(ENV) is not False else None)
    if _trim[0] is not None:
        _trim[0](0)
