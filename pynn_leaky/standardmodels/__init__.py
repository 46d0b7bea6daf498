"""Standard models of pynn_leaky."""

from .cells import LeakyIntegrator, SpikeSourceArray, SpikeSourcePoisson
from .electrodes import ACSource, DCSource, NoisyCurrentSource, StepCurrentSource
from .synapses import StaticSynapse

__all__ = [
    "ACSource",
    "DCSource",
    "LeakyIntegrator",
    "NoisyCurrentSource",
    "SpikeSourceArray",
    "SpikeSourcePoisson",
    "StaticSynapse",
    "StepCurrentSource",
]
