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


def _fine_reference(rhs, y0, t_end, h=1e-3):
    """Classical RK4 with a small step in float64 (error ~1e-13): the reference solution.

    ``rhs(y, t, t_start)`` gets the start of the current small step, so that inputs that
    switch on at a step boundary are seen from that step on (right-continuous), never by
    the last stage of the step before.
    """
    y, out = np.asarray(y0, float), [np.asarray(y0, float)]
    n_per = int(round(DT / h))
    for k in range(int(round(t_end / DT))):
        for j in range(n_per):
            t0 = k * DT + j * h
            k1 = rhs(y, t0, t0)
            k2 = rhs(y + h / 2 * k1, t0 + h / 2, t0)
            k3 = rhs(y + h / 2 * k2, t0 + h / 2, t0)
            k4 = rhs(y + h * k3, t0 + h, t0)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(y)
    return np.array(out)


@pytest.mark.parametrize("kernel", ["exp", "alpha"])
def test_if_cond_psp_is_the_solution_of_the_equations(kernel):
    """One excitatory and one inhibitory spike (weights in uS) reach the synapses at 2 ms
    and 5 ms. The conductances are closed form: w e^(-s/ts), or w (s/ts) e^(1 - s/ts);
    v solves cm dv/dt = -gL (v - v_rest) - gE (v - E_E) - gI (v - E_I) + i_offset, here
    with a fine RK4 reference. NEST's adaptive scheme (absolute tolerance 1e-3 mV per
    step) stays within 1e-6 mV of it (measured: 2e-9 mV exp, 2e-8 mV alpha); the
    conductances are exact to 1e-9 uS."""
    cm, tm, tse, tsi, we, wi = 0.5, 15.0, 1.5, 4.0, 0.02, 0.05
    celltype = sim.IF_cond_exp if kernel == "exp" else sim.IF_cond_alpha
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[[1.0], [4.0]]))
    cell = sim.Population(1, celltype(cm=cm, tau_m=tm, tau_syn_E=tse, tau_syn_I=tsi,
                                      v_rest=-65.0, e_rev_E=0.0, e_rev_I=-80.0,
                                      i_offset=0.1, v_thresh=0.0))
    sim.Projection(src[0:1], cell, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=we, delay=1.0))
    sim.Projection(src[1:2], cell, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=wi, delay=1.0), receptor_type="inhibitory")
    cell.record(["v", "gsyn_exc", "gsyn_inh"])
    sim.run(30.0)
    t, v = signal(cell, "v")
    _, ge = signal(cell, "gsyn_exc")
    _, gi = signal(cell, "gsyn_inh")
    assert str(ge.units.dimensionality) == "uS"

    def g(s, w, ts):  # conductance s ms after arrival (0 before)
        u = np.maximum(s, 0.0)
        shape = np.exp(-u / ts) if kernel == "exp" else (u / ts) * np.exp(1 - u / ts)
        return np.where(s >= -1e-9, w * shape, 0.0)

    np.testing.assert_allclose(ge.magnitude[:, 0], g(t - 2.0, we, tse), atol=1e-9)
    np.testing.assert_allclose(gi.magnitude[:, 0], g(t - 5.0, wi, tsi), atol=1e-9)

    def rhs(y, t, t_start):  # the conductances are known functions of t
        on_e, on_i = t_start >= 2.0 - 1e-9, t_start >= 5.0 - 1e-9
        gE, gI = on_e * g(t - 2.0, we, tse), on_i * g(t - 5.0, wi, tsi)
        return (-cm / tm * (y + 65.0) - gE * y - gI * (y + 80.0) + 0.1) / cm

    ref = _fine_reference(rhs, -65.0, 30.0)
    np.testing.assert_allclose(v.magnitude[:, 0], ref, atol=1e-6)
    assert abs(v.magnitude[:, 0] - ref).max() > 0  # not the same scheme as the reference


def _cond_network(celltype):
    src = sim.Population(10, sim.SpikeSourcePoisson(rate=200.0))
    cells = sim.Population(6, celltype(i_offset=0.3, tau_refrac=2.0),
                           initial_values={"v": -60.0, "gsyn_exc": 0.01})
    sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    sim.Projection(cells, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.02),
                   receptor_type="inhibitory")
    cells.record(["spikes", "v", "gsyn_exc"])
    return cells


@pytest.mark.parametrize("celltype", ["IF_cond_exp", "IF_cond_alpha"])
def test_if_cond_run_split_and_rebuild_are_bit_identical(celltype):
    """The adaptive step size is state: it is carried over run() calls and rebuilds."""
    cells = _cond_network(getattr(sim, celltype))
    sim.run(50.0)
    whole = signal(cells, "v")[1].magnitude
    n_spikes = sum(len(s) for s in cells.get_data().segments[0].spiketrains)
    sim.end()
    sim.setup(timestep=DT)
    cells = _cond_network(getattr(sim, celltype))
    sim.run(20.0)
    cells.set(i_offset=0.3)  # same value: forces a rebuild that must carry the state
    sim.run(17.3)
    sim.run(12.7)
    np.testing.assert_array_equal(signal(cells, "v")[1].magnitude, whole)
    assert n_spikes > 10
    assert signal(cells, "gsyn_exc")[1].magnitude[0, 0] == 0.01  # initial value honoured


def test_weight_signs_follow_the_synapse_kind():
    cond = sim.Population(2, sim.IF_cond_exp())
    curr = sim.Population(2, sim.IF_curr_exp())
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]))
    sim.Projection(src, cond, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01),
                   receptor_type="inhibitory")  # conductances are >= 0 on every receptor
    with pytest.raises(errors.ConnectionError, match=r"weight = -0\.01 uS .*'inhibitory'.*>= 0"):
        sim.Projection(src, cond, sim.AllToAllConnector(), sim.StaticSynapse(weight=-0.01),
                       receptor_type="inhibitory")
    with pytest.raises(errors.ConnectionError, match=r"weight = 0\.5 nA .*<= 0"):
        sim.Projection(src, curr, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5),
                       receptor_type="inhibitory")
    with pytest.raises(errors.ConnectionError, match="homogeneous"):  # PyNN's own rule
        sim.Projection(src, cond + curr, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=0.01))


def test_if_cond_bad_values_name_value_and_range():
    with pytest.raises(errors.InvalidParameterValueError, match=r"cm = 0\.0 .*> 0"):
        sim.Population(1, sim.IF_cond_alpha(cm=0.0))
    with pytest.raises(errors.InvalidParameterValueError, match=r"e_rev_E = nan .*finite"):
        sim.Population(1, sim.IF_cond_exp(e_rev_E=float("nan")))
    with pytest.raises(errors.InvalidParameterValueError, match=r"gsyn_inh = -1\.0 .*>= 0"):
        sim.Population(1, sim.IF_cond_exp(), initial_values={"gsyn_inh": -1.0})


def test_izhikevich_is_nest_update_rule():
    """The model is its update rule (NEST izhikevich, consistent_integration): per step
    v' = v + dt (0.04 v^2 + 5 v + 140 - u + 1000 i_offset) + arriving weights,
    u' = u + dt a (b v - u); v' >= 30 mV: spike, v' = c, u' += d. A weight reaches v at
    the arrival time itself (t_spike + delay), unlike current synapses."""
    a, b, c, d, i = 0.02, 0.2, -55.0, 4.0, 0.008
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0, 30.0]))
    cell = sim.Population(1, sim.Izhikevich(a=a, b=b, c=c, d=d, i_offset=i),
                          initial_values={"v": -70.0, "u": -14.0})
    sim.Projection(src, cell, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0, delay=1.0))
    cell.record(["spikes", "v", "u"])
    sim.run(100.0)
    _, v = signal(cell, "v")
    _, u = signal(cell, "u")
    assert str(u.units.dimensionality) == "mV/ms"
    jumps = {20: 5.0, 310: 5.0}  # arrival steps (2.0 ms and 31.0 ms)
    ev, eu, spikes = [-70.0], [-14.0], []
    for k in range(1, 1001):
        vo, uo = ev[-1], eu[-1]
        vn = vo + (DT * (0.04 * vo * vo + 5.0 * vo + 140.0 - uo + i * 1000.0) + jumps.get(k, 0))
        un = uo + DT * a * (b * vo - uo)
        if vn >= 30.0:
            vn, un = c, un + d
            spikes.append(k * DT)
        ev.append(vn)
        eu.append(un)
    np.testing.assert_allclose(v.magnitude[:, 0], ev, atol=1e-12)
    np.testing.assert_allclose(u.magnitude[:, 0], eu, atol=1e-12)
    got = cell.get_data().segments[0].spiketrains[0].magnitude
    np.testing.assert_allclose(got, spikes, atol=1e-9)
    assert len(spikes) >= 3


def test_izhikevich_weights_are_mv_jumps_with_current_sign_rules():
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cell = sim.Population(1, sim.Izhikevich())
    sim.Projection(src, cell, sim.OneToOneConnector(), sim.StaticSynapse(weight=-2.0),
                   receptor_type="inhibitory")
    with pytest.raises(errors.ConnectionError, match=r"weight = 2\.0 mV .*<= 0"):
        sim.Projection(src, cell, sim.OneToOneConnector(), sim.StaticSynapse(weight=2.0),
                       receptor_type="inhibitory")
    with pytest.raises(errors.InvalidParameterValueError, match=r"d = inf .*finite"):
        sim.Population(1, sim.Izhikevich(d=float("inf")))


@pytest.mark.parametrize("celltype", ["EIF_cond_exp_isfa_ista", "EIF_cond_alpha_isfa_ista"])
def test_eif_subthreshold_is_the_solution_of_the_equations(celltype):
    """Below threshold, with a current step at 0 ms: v and w solve
    cm dv/dt = -gL (v - v_rest) + gL dT exp((v - v_thresh) / dT) - w + i_offset,
    tau_w dw/dt = a (v - v_rest) - w (a in nS: 1e-3 uS), against a fine RK4 reference.
    NEST's adaptive scheme (tolerance 1e-6 per step) stays within 1e-7 mV of it."""
    cm, tm, a, tw, dT, vt, i = 0.281, 9.3667, 4.0, 144.0, 2.0, -50.4, 0.4
    cell = sim.Population(1, getattr(sim, celltype)(cm=cm, tau_m=tm, a=a, tau_w=tw,
                                                     delta_T=dT, v_thresh=vt, i_offset=i,
                                                     v_rest=-70.6),
                          initial_values={"v": -70.6, "w": 0.0})
    cell.record(["v", "w", "spikes"])
    sim.run(100.0)
    _, v = signal(cell, "v")
    _, w = signal(cell, "w")
    gl = cm / tm

    def rhs(y, t, t_start):
        vv, ww = y
        dv = (-gl * (vv + 70.6) + gl * dT * np.exp((vv - vt) / dT) - ww + i) / cm
        return np.array([dv, (a * 1e-3 * (vv + 70.6) - ww) / tw])

    ref = _fine_reference(rhs, [-70.6, 0.0], 100.0)
    assert len(cell.get_data().segments[0].spiketrains[0]) == 0
    assert v.magnitude.max() > -60.0  # the exponential term matters
    np.testing.assert_allclose(v.magnitude[:, 0], ref[:, 0], atol=1e-7)
    np.testing.assert_allclose(w.magnitude[:, 0], ref[:, 1], atol=1e-9)
    assert str(w.units.dimensionality) == "nA"


def test_eif_spike_adaptation_and_refractory_clamp():
    """Each spike adds b to w and holds v at v_reset for tau_refrac; the spike is the end
    of the step in which v reached v_spike."""
    b, refrac = 0.1, 2.0
    cell = sim.Population(1, sim.EIF_cond_exp_isfa_ista(i_offset=1.5, b=b, a=0.0,
                                                       tau_refrac=refrac, v_reset=-60.0))
    cell.record(["v", "w", "spikes"])
    sim.run(60.0)
    t, v = signal(cell, "v")
    _, w = signal(cell, "w")
    spikes = cell.get_data().segments[0].spiketrains[0].magnitude
    assert len(spikes) >= 3
    for ts in spikes:
        k = int(round(ts / DT))
        # held from the spike step through the refractory steps (v_reset exactly)
        np.testing.assert_array_equal(v.magnitude[k:k + int(refrac / DT) + 1, 0], -60.0)
        # w jumps by b during the step, less its decay (a = 0: dw/dt = -w / tau_w)
        jump, before = w.magnitude[k, 0] - w.magnitude[k - 1, 0], w.magnitude[k - 1, 0]
        assert b - (before + b) * DT / 144.0 <= jump <= b - before * DT / 144.0 * 0.99
        assert v.magnitude[k + int(refrac / DT) + 1, 0] > -60.0


def test_hh_subthreshold_is_the_solution_of_the_equations():
    """Traub-Miles equations (see pynn_leaky.engine.hh) from PyNN's initial values
    (v = -65 mV, m = n = 0, h = 1) with a small current: a fine RK4 reference. NEST's
    scheme (absolute tolerance 1e-3 per step) is 1.3e-4 mV off it in the first, fast
    steps of the gating transient, and within 1e-3 mV throughout."""
    cell = sim.Population(1, sim.HH_cond_exp(i_offset=0.01))
    cell.record(["v", "m", "h", "n", "spikes"])
    sim.run(50.0)
    _, v = signal(cell, "v")
    _, m = signal(cell, "m")
    p = {k: cell.get(k) for k in ("gbar_Na", "gbar_K", "g_leak", "cm", "v_offset", "e_rev_Na",
                                  "e_rev_K", "e_rev_leak", "i_offset")}

    def rhs(y, t, t_start):
        vv, mm, hh, nn = y
        u = vv - p["v_offset"]
        an = 0.032 * (15 - u) / (np.exp((15 - u) / 5) - 1)
        bn = 0.5 * np.exp((10 - u) / 40)
        am = 0.32 * (13 - u) / (np.exp((13 - u) / 4) - 1)
        bm = 0.28 * (u - 40) / (np.exp((u - 40) / 5) - 1)
        ah = 0.128 * np.exp((17 - u) / 18)
        bh = 4 / (1 + np.exp((40 - u) / 5))
        i = (-p["gbar_Na"] * mm**3 * hh * (vv - p["e_rev_Na"])
             - p["gbar_K"] * nn**4 * (vv - p["e_rev_K"])
             - p["g_leak"] * (vv - p["e_rev_leak"]) + p["i_offset"])
        return np.array([i / p["cm"], am - (am + bm) * mm, ah - (ah + bh) * hh,
                         an - (an + bn) * nn])

    ref = _fine_reference(rhs, [-65.0, 0.0, 1.0, 0.0], 50.0)
    assert len(cell.get_data().segments[0].spiketrains[0]) == 0
    np.testing.assert_allclose(v.magnitude[:, 0], ref[:, 0], atol=1e-3)
    np.testing.assert_allclose(m.magnitude[:, 0], ref[:, 1], atol=1e-3)
    assert str(m.units.dimensionality) == "dimensionless"


def test_hh_spike_is_the_step_where_v_starts_to_fall_above_threshold():
    cell = sim.Population(1, sim.HH_cond_exp(i_offset=1.0))
    cell.record(["v", "spikes"])
    sim.run(100.0)
    t, v = signal(cell, "v")
    v = v.magnitude[:, 0]
    above = v >= cell.get("v_offset") + 30.0
    falling = np.r_[False, v[1:] < v[:-1]]
    candidates = np.flatnonzero(above & falling)
    expected = []
    for k in candidates:  # no new spike within 2 ms (NEST's t_ref) of the last one
        if not expected or k - expected[-1] > 20:
            expected.append(k)
    spikes = cell.get_data().segments[0].spiketrains[0].magnitude
    assert len(spikes) >= 5
    np.testing.assert_allclose(spikes, t[expected], atol=1e-9)
    with pytest.raises(errors.ConnectionError):
        sim.Projection(cell, cell, sim.OneToOneConnector(), receptor_type="source_section.gap")


def test_gsfa_grr_conductances_jump_at_spikes_and_decay():
    """g_s and g_r (nS) jump by q_sfa, q_rr at each spike and decay exponentially:
    g(t) = sum_k q exp(-(t - t_k) / tau) over the spikes t_k <= t; the adaptation slows
    the firing down (inter-spike intervals grow)."""
    q_sfa, tau_sfa, q_rr, tau_rr = 15.0, 100.0, 300.0, 2.0
    cell = sim.Population(1, sim.IF_cond_exp_gsfa_grr(i_offset=2.0, q_sfa=q_sfa, tau_sfa=tau_sfa,
                                                      q_rr=q_rr, tau_rr=tau_rr))
    cell.record(["spikes", "g_s", "g_r", "v"])
    sim.run(200.0)
    t, g_s = signal(cell, "g_s")
    _, g_r = signal(cell, "g_r")
    assert str(g_s.units.dimensionality) == "nS"
    spikes = cell.get_data().segments[0].spiketrains[0].magnitude
    assert len(spikes) >= 5 and np.diff(spikes)[-1] > np.diff(spikes)[0]

    def expected(q, tau):
        s = t[:, None] - spikes[None, :]
        return np.where(s >= -1e-9, q * np.exp(-np.maximum(s, 0) / tau), 0.0).sum(axis=1)

    # NEST's scheme: absolute tolerance 1e-3 nS per step on g_s, g_r
    np.testing.assert_allclose(g_s.magnitude[:, 0], expected(q_sfa, tau_sfa), atol=1e-3)
    np.testing.assert_allclose(g_r.magnitude[:, 0], expected(q_rr, tau_rr), atol=1e-2)


@pytest.mark.parametrize("celltype", ["IF_cond_exp", "IF_curr_alpha", "EIF_cond_exp_isfa_ista"])
def test_batched_trials_equal_ordinary_runs(celltype):
    """run_trials vmaps the step: trial b is the ordinary run with rng_seed b, bit for bit
    with exact propagators; the vectorised adaptive integration (GSL replica) rounds
    differently in the last bit (IF_cond: 1e-14 mV; EIF: 1e-14 mV, which its exp() term
    amplifies near each spike to 1e-11 .. 5e-8 mV, depending on the input spikes)."""
    weight = 0.5 if celltype == "IF_curr_alpha" else 0.01

    def build(seed):
        sim.setup(timestep=DT, rng_seed=seed)
        src = sim.Population(20, sim.SpikeSourcePoisson(rate=50.0))
        cells = sim.Population(5, getattr(sim, celltype)(i_offset=0.3))
        sim.Projection(src, cells, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=weight, delay=1.0))
        cells.record(["spikes", "v"])
        return cells

    cells = build(1)
    blocks = sim.run_trials(40.0, rng_seeds=[1, 2])[cells]
    batched = [seg.filter(name="v")[0].magnitude for seg in blocks.segments]
    sim.end()
    for b, seed in enumerate([1, 2]):
        cells = build(seed)
        sim.run(40.0)
        ordinary = signal(cells, "v")[1].magnitude
        atol = {"IF_curr_alpha": 0.0, "IF_cond_exp": 1e-11}.get(celltype, 2e-7)
        np.testing.assert_allclose(batched[b], ordinary, rtol=0, atol=atol)
        sim.end()
    assert not np.array_equal(batched[0], batched[1])


def test_gradients_pass_around_adaptively_integrated_cells():
    """Cells integrated with NEST's adaptive scheme (a while loop) are constants to
    jax.grad; a readout of them stays differentiable (against finite differences)."""
    import jax
    import jax.numpy as jnp

    src = sim.Population(5, sim.SpikeSourceArray(spike_times=[1.0, 5.0]))
    cells = sim.Population(3, sim.IF_cond_exp(i_offset=0.5))
    out = sim.Population(2, sim.LeakyIntegrator(tau=5.0, R=10.0))
    sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    prj = sim.Projection(cells, out, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.3))
    out.record("v")
    f = sim.differentiable(30.0)

    def loss(w):
        return jnp.sum(f(weights={prj: w})[out]["v"] ** 2)

    loss = jax.jit(loss)
    w = jnp.linspace(0.1, 0.6, 6)
    grad = jax.grad(loss)(w)
    eps = 1e-6
    for i in (0, 5):
        e = jnp.zeros(6).at[i].set(eps)
        fd = (loss(w + e) - loss(w - e)) / (2 * eps)
        np.testing.assert_allclose(grad[i], fd, rtol=1e-6)
    assert float(jnp.abs(grad).min()) > 0


@pytest.mark.parametrize("celltype, values, message", [
    ("IF_cond_exp", {"v_reset": -50.0, "v_thresh": -55.0},
     r"v_reset = -50\.0 .* < v_thresh \(= -55\.0\)"),
    ("IF_curr_alpha", {"v_reset": -50.0, "v_thresh": -50.0}, r"v_reset = -50\.0 .* < v_thresh"),
    ("IF_curr_exp", {"v_reset": -45.0, "v_thresh": -50.0},
     r"v_reset = -45\.0 .* < v_thresh \(= -50\.0\)"),
    ("IF_curr_delta", {"v_thresh": -70.0}, r"v_reset = -65\.0 .* < v_thresh \(= -70\.0\)"),
    ("EIF_cond_exp_isfa_ista", {"v_spike": -60.0}, r"v_spike = -60\.0 .* >= v_thresh \(= -50\.4\)"),
])
def test_nest_parameter_relations_are_checked(celltype, values, message):
    """NEST refuses these combinations (BadProperty); pynn_leaky names value and bound."""
    with pytest.raises(errors.InvalidParameterValueError, match=message):
        sim.Population(2, getattr(sim, celltype)(**values))
    cells = sim.Population(2, getattr(sim, celltype)())
    for name, value in values.items():  # one at a time: the combination is checked at run()
        cells.set(**{name: value})
    with pytest.raises(errors.InvalidParameterValueError, match=message):
        sim.run(1.0)


def test_if_curr_delta_psp_is_a_jump_then_exponential_decay():
    """A spike of weight w (mV) at 1 ms through a 1 ms delay moves v by w at 2 ms:
    v(t) = v_rest + w e^(-(t - 2) / tau_m) for t >= 2 ms (the jump is in v(2 ms) already:
    NEST's iaf_psc_delta adds the weights arriving in a step to v at the end of it)."""
    tm, w = 15.0, 2.5
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cell = sim.Population(1, sim.IF_curr_delta(tau_m=tm, v_rest=-65.0, v_thresh=-50.0))
    sim.Projection(src, cell, sim.OneToOneConnector(), sim.StaticSynapse(weight=w, delay=1.0))
    cell.record("v")
    sim.run(30.0)
    t, v = signal(cell, "v")
    expected = np.where(t >= 2.0 - 1e-9, -65.0 + w * np.exp(-(t - 2.0) / tm), -65.0)
    np.testing.assert_allclose(v.magnitude[:, 0], expected, rtol=0, atol=1e-12)


def test_if_curr_delta_current_reset_and_refractory_input_is_discarded():
    """i_offset charges v as v_rest + R I (1 - e^(-t/tau_m)), R = tau_m / cm. At the spike
    v is reset and held at v_reset for tau_refrac / dt steps; a weight arriving then is
    lost (NEST's default), one arriving afterwards is added."""
    cm, tm, i = 0.25, 10.0, 0.5
    cell = sim.Population(1, sim.IF_curr_delta(cm=cm, tau_m=tm, i_offset=i, v_rest=-65.0,
                                               v_reset=-70.0, v_thresh=-50.0,
                                               tau_refrac=2.0))
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    # the first threshold crossing, closed form; the spike is the end of that step
    t_cross = -tm * np.log(1 - 15.0 / (tm / cm * i))
    k = int(np.ceil(t_cross / DT - 1e-9))
    arrive_refractory, arrive_free = k + 5, k + 25  # steps
    for w, step in ((3.0, arrive_refractory), (4.0, arrive_free)):
        sim.Projection(src, cell, sim.OneToOneConnector(),
                       sim.StaticSynapse(weight=w, delay=round(step * DT - 1.0, 10)))
    cell.record(["v", "spikes"])
    sim.run(k * DT + 4.0)
    seg = cell.get_data().segments[0]
    t, v = signal(cell, "v")
    v = v.magnitude[:, 0]
    np.testing.assert_allclose(seg.spiketrains[0].magnitude, [k * DT], atol=1e-9)
    r = tm / cm * i
    np.testing.assert_allclose(v[:k], -65.0 + r * (1 - np.exp(-t[:k] / tm)), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(v[k:k + 21], -70.0)  # the spike step, 20 refractory steps
    # free again: v relaxes from v_reset; the 3 mV that arrived at k + 5 left no trace
    s = t[k + 20:] - t[k + 20]
    free = -65.0 + r + (-70.0 + 65.0 - r) * np.exp(-s / tm)
    free += np.where(np.arange(s.size) >= arrive_free - (k + 20), 4.0, 0.0) * np.exp(
        -np.maximum(s - (arrive_free - k - 20) * DT, 0.0) / tm)
    np.testing.assert_allclose(v[k + 20:], free, rtol=0, atol=1e-10)
