"""Compiled programs kept on disk across processes (JAX's persistent compilation cache).

A script run again loads the programs it compiled before from the cache directory instead
of compiling them (W1 on 2 cores: first run 2.5 -> 1.0 s, peak memory 577 -> 405 MiB: the
compiler's working memory is not needed). The directory holds the programs of every JAX
computation of the process, the user's own too.

``PYNN_LEAKY_COMPILE_CACHE``, read at the first ``setup()`` of a process: unset, empty or
``1`` for the default base directory (:func:`default_base`), ``0`` for no cache, or a base
directory (a relative one from the current directory); the programs go to a directory
under it (:func:`directory`). A directory chosen through JAX itself
(``jax_compilation_cache_dir``) is left as it is.
"""

import hashlib
import os
import platform
import shutil

import jax
from pyNN import errors

from . import _warnings

ENV = "PYNN_LEAKY_COMPILE_CACHE"

MAX_BYTES = 1 << 30
"""Most bytes of programs kept: at each process's first ``setup()``, a directory holding
more loses its least recently used programs, down to 3/4 of this (:func:`prune`). JAX's
own cap (``jax_compilation_cache_max_size``) is not used: it scans the whole directory
at every write (0.08 s per program written at 5000 programs here)."""

_JAX_MIN_TIME = 1.0  # JAX's default: only programs that took a second to compile are kept
_MIN_TIME_ENV = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"  # set: the user's choice, kept
_chosen = []  # the directory configured by the first setup() (None: no cache)


def _cpu_tag():
    """A short hash of this machine's CPU: its architecture and instruction-set features.
    The cached programs are machine code for this CPU; a home directory shared by
    different machines (a cluster) gets one directory per kind of CPU."""
    features = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.split(":")[0].strip() in ("flags", "Features"):
                    features = line.split(":", 1)[1].strip()
                    break
    except OSError:
        features = platform.processor()
    return hashlib.sha1(f"{platform.machine()} {features}".encode()).hexdigest()[:12]


def default_base():
    """``$XDG_CACHE_HOME/pynn_leaky`` (``~/.cache/pynn_leaky`` where XDG_CACHE_HOME is unset
    or, as the XDG specification says to treat it, relative), or None where there is no
    home directory either."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    if base.startswith("~"):  # no HOME and no password entry: "~" stays as it is
        return None
    return os.path.join(base, "pynn_leaky")


_SWITCH_WORDS = frozenset({"on", "off", "true", "false", "yes", "no", "none", "default"})


def _base_setting():
    """(base directory or None for no cache, whether the user chose it) from
    ``PYNN_LEAKY_COMPILE_CACHE``: 0 no cache; unset, empty or 1 the default base; else a
    directory (a relative one from the current directory). Words meant as a switch are
    refused by name rather than taken as directory names."""
    value = os.environ.get(ENV, "").strip()
    if value == "0":
        return None, True
    if value.lower() in _SWITCH_WORDS:
        raise errors.InvalidParameterValueError(
            f"{ENV} = {value!r} is not allowed: give a directory, 0 (no cache), or 1 or "
            "nothing (the default directory)")
    if value in ("", "1"):
        return default_base(), False
    return value, True


def directory(base, threads):
    """The cache directory under ``base``: ``xla-<CPU>-t<threads>``. XLA compiles for the
    CPU runtime's worker threads (with several, it splits large loops between them), and
    JAX's cache keys leave both the CPU and the threads out."""
    return os.path.join(os.path.abspath(os.path.expanduser(base)),
                        f"xla-{_cpu_tag()}-t{threads}")


def configure(threads):
    """Point JAX's persistent compilation cache at the chosen directory, once per process
    (called by ``setup()``, after JAX's CPU runtime has started with ``threads`` worker
    threads). Returns the directory in use by pynn_leaky's choice, or None."""
    if _chosen:
        return _chosen[0]
    base, chosen = _base_setting()
    path = None
    # JAX sets its cache up at the first compile after a directory is given: with none
    # given so far, one given now is used
    if base is not None and jax.config.jax_compilation_cache_dir is None:
        path = _usable(directory(base, threads), base if chosen else None)
    if path is not None:
        prune(path)
        jax.config.update("jax_compilation_cache_dir", path)
        if jax.config.jax_persistent_cache_min_compile_time_secs == _JAX_MIN_TIME \
                and _MIN_TIME_ENV not in os.environ:
            # the small programs too: together (W1: 14 of them) they took another 0.25 s
            # and 25 MiB more memory to compile than to load
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    _chosen.append(path)
    return path


def _usable(path, chosen):
    """``path`` if it is, or can be made, a writable directory; else None, with a warning
    where the user ``chosen`` its base (an error if that is a file). The default base
    fails silently (a read-only home, say): no cache then, and no warning in every run."""
    if chosen and os.path.isfile(os.path.expanduser(chosen)):
        raise errors.InvalidParameterValueError(
            f"{ENV} = {chosen!r} is not allowed: it is a file; give a directory, 0 (no "
            "cache) or leave it unset (the default directory)")
    try:
        os.makedirs(path, exist_ok=True)
        why = "" if os.access(path, os.W_OK | os.X_OK) else "not writable"
    except OSError as err:
        why = str(err)
    if not why:
        return path
    if chosen:
        _warnings.warn(f"compiled programs are not cached on disk: the directory {path!r} "
                       f"cannot be used ({why}); set {ENV} to a writable directory, or to 0 "
                       "to turn the cache off without this warning")
    return None


def prune(path, limit=MAX_BYTES):
    """If the programs in ``path`` take more than ``limit`` bytes, delete the least
    recently used (:func:`_programs`) until they take at most 3/4 of it. Returns the
    number deleted. A file another process is reading or writing meanwhile is at worst
    compiled again there."""
    try:
        entries = _programs(path)
    except OSError:
        return 0
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return 0
    deleted = 0
    for _, size, file in sorted(entries):
        if total <= limit * 3 // 4:
            break
        try:
            os.remove(file)
        except OSError:
            continue
        total -= size
        deleted += 1
    return deleted


def _programs(path):
    """(last use, size, file) of each program in the cache directory ``path`` (JAX names
    them ``<module>-<key>-cache``); last use: the access time where the file system
    keeps it, else the modification time."""
    found = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.endswith("-cache") and entry.is_file():
                st = entry.stat()
                found.append((max(st.st_atime, st.st_mtime), st.st_size, entry.path))
    return found


def report(clear=False):
    """``python -m pynn_leaky cache [--clear]``: the cache directories under the base that
    ``PYNN_LEAKY_COMPILE_CACHE`` (or the default) names, their sizes, and with ``clear``
    deleted. Returns the lines to print."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return [f"JAX_COMPILATION_CACHE_DIR = {os.environ['JAX_COMPILATION_CACHE_DIR']!r}: "
                "JAX's own cache directory is used, with JAX's settings, not pynn_leaky's"]
    base, chosen = _base_setting()
    if base is None:
        return [f"{ENV}=0: compiled programs are not cached on disk" if chosen else
                "no home directory and no XDG_CACHE_HOME: no default cache directory; "
                f"set {ENV} to one"]
    base = os.path.abspath(os.path.expanduser(base))
    found = sorted(d for d in (os.listdir(base) if os.path.isdir(base) else [])
                   if d.startswith("xla-") and os.path.isdir(os.path.join(base, d)))
    lines = [f"compile cache base: {base}" + ("" if found else " (no cached programs)")]
    here = f"xla-{_cpu_tag()}-"
    for name in found:
        path = os.path.join(base, name)
        programs = _programs(path)
        size = sum(size for _, size, _ in programs)
        this = " (this CPU)" if name.startswith(here) else ""
        lines.append(f"  {name}{this}: {len(programs)} programs, {size / 2**20:.2f} MiB")
        if clear:
            shutil.rmtree(path)
            lines[-1] += ", deleted"
    return lines
