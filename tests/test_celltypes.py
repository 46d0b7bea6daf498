"""PyNN's standard cell types: closed-form checks, recording, units and bad values.

Expected values come from the model equations (written out per test), never from numbers
the simulator printed. The comparisons with NEST are in test_nest_celltypes.py.
"""

import numpy as np
import pytest
from pyNN import errors

import pynn_leaky as sim

DT = 0.1


@pytest.fixture(autouse=True)
def simulator():
    sim.setup(timestep=DT)
    yield sim
    sim.end()


def signal(population, name):
    sig = population.get_data().segments[0].filter(name=name)[0]
    return np.asarray(sig.times.rescale("ms").magnitude), sig


@pytest.mark.parametrize("tau_syn", [2.0, 10.0])  # 10.0 == tau_m: the singular case
def test_if_curr_alpha_psp_is_closed_form(tau_syn):
    """One spike of weight w: I(s) = w (s/ts) e^(1 - s/ts), and

    v - v_rest = w e / (cm ts) e^(-s/tm) int_0^s u e^(-k u) du,  k = 1/ts - 1/tm,

    = w e / (cm ts) e^(-s/tm) (1 - e^(-ks) (1 + ks)) / k^2   (s^2 / 2 when k = 0).
    The spike (1 ms) plus the delay (1 ms) reaches the synapse at 2 ms.
    """
    cm, tm, w = 0.5, 10.0, 0.7
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cell = sim.Population(1, sim.IF_curr_alpha(cm=cm, tau_m=tm, tau_syn_E=tau_syn,
                                               v_rest=-65.0, v_thresh=0.0))
    sim.Projection(src, cell, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=w, delay=1.0))
    cell.record("v")
    sim.run(40.0)
    t, v = signal(cell, "v")
    s = np.maximum(t - 2.0, 0.0)
    k = 1 / tau_syn - 1 / tm
    integral = s**2 / 2 if k == 0 else (1 - np.exp(-k * s) * (1 + k * s)) / k**2
    expected = -65.0 + w * np.e / (cm * tau_syn) * np.exp(-s / tm) * integral
    np.testing.assert_allclose(v.magnitude[:, 0], expected, rtol=0, atol=1e-12)
    assert v.magnitude.max() > -65.0 + 0.1  # the PSP is there


def test_if_curr_alpha_threshold_reset_refractory():
    """Constant drive: v rises as v_rest + R i (1 - e^(-t/tm)), spikes at the first step
    at or above threshold, is held at v_reset for tau_refrac, then rises again."""
    cm, tm, i = 1.0, 20.0, 1.0  # v_inf = -65 + 20 mV = -45 mV > v_thresh
    cell = sim.Population(1, sim.IF_curr_alpha(cm=cm, tau_m=tm, i_offset=i, v_rest=-65.0,
                                               v_reset=-70.0, v_thresh=-50.0,
                                               tau_refrac=2.0))
    cell.record(["spikes", "v"])
    sim.run(100.0)
    t, v = signal(cell, "v")
    rise = -65.0 + tm / cm * i * (1 - np.exp(-t / tm))
    k_spike = int(np.argmax(rise >= -50.0))
    spikes = cell.get_data().segments[0].spiketrains[0].magnitude
    assert spikes[0] == pytest.approx(t[k_spike])
    np.testing.assert_allclose(v.magnitude[:k_spike, 0], rise[:k_spike], atol=1e-12)
    # held at v_reset for 20 steps after the spike step, free from the step after
    np.testing.assert_array_equal(v.magnitude[k_spike:k_spike + 21, 0], -70.0)
    after = -45.0 + (-70.0 + 45.0) * np.exp(-DT / tm)
    assert v.magnitude[k_spike + 21, 0] == pytest.approx(after, abs=1e-12)


def test_recordables_of_mixed_models_in_one_network():
    """A signal that only some models have is recorded for those; units are PyNN's."""
    a = sim.Population(2, sim.IF_curr_alpha(i_offset=1.0))
    b = sim.Population(2, sim.LeakyIntegrator())
    a.record(["spikes", "v"])
    b.record(["v", "isyn_exc"])
    sim.run(30.0)
    _, va = signal(a, "v")
    _, isyn = signal(b, "isyn_exc")
    assert str(va.units.dimensionality) == "mV" and str(isyn.units.dimensionality) == "nA"
    assert va.shape == (301, 2) and isyn.shape == (301, 2)
    assert np.isfinite(va.magnitude).all() and len(a.get_data().segments[0].spiketrains[0])


def test_if_curr_alpha_bad_parameter_names_value_and_range():
    with pytest.raises(errors.InvalidParameterValueError, match=r"tau_syn_E = -1\.0.*> 0"):
        sim.Population(1, sim.IF_curr_alpha(tau_syn_E=-1.0))
    with pytest.raises(errors.InvalidParameterValueError, match=r"tau_refrac = -0\.5.*>= 0"):
        sim.Population(1, sim.IF_curr_alpha(tau_refrac=-0.5))
