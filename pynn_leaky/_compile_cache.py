"""Compiled programs kept on disk across processes (JAX's persistent compilation cache).

A script run again loads the programs it compiled before from the cache directory instead
of compiling them (W1 on 2 cores: first run 2.5 -> 1.0 s, peak memory 577 -> 405 MiB: the
compiler's working memory is not needed). The directory holds the programs of every JAX
computation of the process, the user's own too.

``PYNN_LEAKY_COMPILE_CACHE``, read at the first ``setup()`` of a process: unset or empty
for the default base directory (:func:`default_base`), ``0`` for no cache, or a base
directory; the programs go to a directory under it (:func:`directory`). A directory
chosen through JAX itself (``jax_compilation_cache_dir``) is left as it is.
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
"""Size of the default cache, least recently used programs evicted first (JAX does that
only with the ``filelock`` package installed; without it the cache is not capped)."""

_JAX_MIN_TIME = 1.0  # JAX's default: only programs that took a second to compile are kept
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
    """``$XDG_CACHE_HOME/pynn_leaky`` (``~/.cache/pynn_leaky`` without XDG_CACHE_HOME), or
    None where neither names a directory (no home directory: no default cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if base.startswith("~"):  # no HOME and no password entry: "~" stays as it is
        return None
    return os.path.join(base, "pynn_leaky")


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
    chosen = os.environ.get(ENV, "").strip()
    path = None
    # JAX sets its cache up at the first compile after a directory is given: with none
    # given so far, one given now is used
    base = chosen or default_base()
    if chosen != "0" and base is not None and jax.config.jax_compilation_cache_dir is None:
        path = _usable(directory(base, threads), chosen)
    if path is not None:
        jax.config.update("jax_compilation_cache_dir", path)
        if jax.config.jax_compilation_cache_max_size == -1 and _has_filelock():
            jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
        if jax.config.jax_persistent_cache_min_compile_time_secs == _JAX_MIN_TIME:
            # the small programs too: together (W1: 14 of them) they took another 0.25 s
            # and 25 MiB more memory to compile than to load
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    _chosen.append(path)
    return path


def _usable(path, chosen):
    """``path`` if it is, or can be made, a writable directory; else a warning and None
    (an error if the ``chosen`` base directory is a file)."""
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
    _warnings.warn(f"compiled programs are not cached on disk: the directory {path!r} "
                   f"cannot be used ({why}); set {ENV} to a writable directory, or to 0 to "
                   "turn the cache off without this warning")
    return None


def _has_filelock():
    try:
        import filelock  # noqa: F401  (JAX needs it to cap the cache's size)
    except ImportError:
        return False
    return True


def report(clear=False):
    """``python -m pynn_leaky cache [--clear]``: the cache directories under the base that
    ``PYNN_LEAKY_COMPILE_CACHE`` (or the default) names, their sizes, and with ``clear``
    deleted. Returns the lines to print."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen == "0":
        return [f"{ENV}=0: compiled programs are not cached on disk"]
    base = chosen or default_base()
    if base is None:
        return ["no home directory and no XDG_CACHE_HOME: no default cache directory; set "
                f"{ENV} to one"]
    base = os.path.abspath(os.path.expanduser(base))
    found = sorted(d for d in (os.listdir(base) if os.path.isdir(base) else [])
                   if d.startswith("xla-") and os.path.isdir(os.path.join(base, d)))
    lines = [f"compile cache base: {base}" + ("" if found else " (no cached programs)")]
    for name in found:
        path = os.path.join(base, name)
        files = [os.path.join(path, f) for f in os.listdir(path) if f.endswith("-cache")]
        size = sum(os.path.getsize(f) for f in files)
        this = " (this CPU)" if name.startswith(f"xla-{_cpu_tag()}-") else ""
        lines.append(f"  {name}{this}: {len(files)} programs, {size / 2**20:.2f} MiB")
        if clear:
            shutil.rmtree(path)
            lines[-1] += ", deleted"
    return lines
