"""Standard models of pynn_leaky."""

from .cells import (
    EIF_cond_alpha_isfa_ista,
    EIF_cond_exp_isfa_ista,
    HH_cond_exp,
    IF_cond_alpha,
    IF_cond_exp,
    IF_cond_exp_gsfa_grr,
    IF_curr_alpha,
    IF_curr_delta,
    IF_curr_exp,
    Izhikevich,
    LeakyIntegrator,
    SpikeSourceArray,
    SpikeSourceGamma,
    SpikeSourcePoisson,
    SpikeSourcePoissonRefractory,
)
from .electrodes import ACSource, DCSource, NoisyCurrentSource, StepCurrentSource
from .synapses import StaticSynapse

__all__ = [
    "ACSource",
    "DCSource",
    "EIF_cond_alpha_isfa_ista",
    "EIF_cond_exp_isfa_ista",
    "HH_cond_exp",
    "IF_cond_alpha",
    "IF_cond_exp",
    "IF_cond_exp_gsfa_grr",
    "IF_curr_alpha",
    "IF_curr_delta",
    "IF_curr_exp",
    "Izhikevich",
    "LeakyIntegrator",
    "NoisyCurrentSource",
    "SpikeSourceArray",
    "SpikeSourceGamma",
    "SpikeSourcePoisson",
    "SpikeSourcePoissonRefractory",
    "StaticSynapse",
    "StepCurrentSource",
]
