"""The XLA flags pynn_leaky adds on import (command buffers on CUDA GPUs)."""

import pynn_leaky

CB = "--xla_gpu_enable_command_buffer="


def test_added_only_with_a_cuda_plugin_and_a_recent_jaxlib():
    flags = pynn_leaky._xla_defaults({}, True, "0.11.2")
    assert flags.startswith(CB) and "WHILE" in flags and "CONDITIONAL" in flags
    assert pynn_leaky._xla_defaults({}, False, "0.11.2") is None  # CPU-only JAX
    assert pynn_leaky._xla_defaults({}, True, "0.4.30") is None  # names unknown then
    assert pynn_leaky._xla_defaults({}, True, "garbled") is None


def test_user_settings_win():
    assert pynn_leaky._xla_defaults({"XLA_FLAGS": CB + "FUSION"}, True, "0.11.2") is None
    assert pynn_leaky._xla_defaults({"PYNN_LEAKY_XLA_DEFAULTS": "0"}, True, "0.11.2") is None
    kept = pynn_leaky._xla_defaults({"XLA_FLAGS": "--xla_dump_to=/tmp/x"}, True, "0.11.2")
    assert kept.startswith("--xla_dump_to=/tmp/x " + CB)
