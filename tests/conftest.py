"""Test-session settings shared by every test module."""

import atexit
import os
import shutil
import tempfile

# Compiled programs are cached on disk (pynn_leaky._compile_cache): the tests use a
# directory of their own, removed at the end, not the user's cache (also for the scripts
# that tests run in fresh processes, which inherit it). PYNN_LEAKY_COMPILE_CACHE set by the
# caller (e.g. 0) is kept.
if "PYNN_LEAKY_COMPILE_CACHE" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="pynn_leaky_test_cache_")
    os.environ["PYNN_LEAKY_COMPILE_CACHE"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
