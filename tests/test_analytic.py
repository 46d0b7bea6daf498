"""LeakyIntegrator dynamics against closed-form solutions.

Every expected value here is computed from the equations of DESIGN.md, never from
numbers the simulator printed:

    tau dv/dt = -(v - V_rest) + R (isyn_exc + isyn_inh + i_offset)
    d isyn_X/dt = -isyn_X / tau_syn_X,  isyn_X += w on each arriving spike

Sample k of a recorded signal is the state at t_k = k * dt (k = 0 is the initial value).
A spike at t_s through a delay d reaches isyn at t_s + d and first changes v one step
later.
"""

import numpy as np
import pytest
from pyNN.parameters import Sequence

import pynn_leaky as sim

DT = 0.1
TOL_F64 = 1e-9  # mV; float64 exact propagators are ~1e-14 off, this leaves room only for bugs


@pytest.fixture(autouse=True)
def simulator():
    sim.setup(timestep=DT)
    yield sim
    sim.end()


def signal(population, name, segment=0):
    """(times in ms, values[n_samples, n_cells]) of one recorded variable."""
    sig = population.get_data().segments[segment].filter(name=name)[0]
    return np.asarray(sig.times.rescale("ms").magnitude), np.asarray(sig.magnitude)


def step_response(t, V_rest, R, i_offset, tau, v0=None):
    v0 = V_rest if v0 is None else v0
    v_inf = V_rest + R * i_offset
    return v_inf + (v0 - v_inf) * np.exp(-t / tau)


def psc(s, w, tau_syn):
    """Exponential synaptic current; zero before arrival (s < 0)."""
    return np.where(s >= 0, w * np.exp(-np.maximum(s, 0) / tau_syn), 0.0)


def psp(s, R, w, tau, tau_syn):
    """v - V_rest for one spike arriving at s = 0 (difference of exponentials).

    R w tau_syn/(tau - tau_syn) (exp(-s/tau) - exp(-s/tau_syn)), written with expm1 so
    that it stays accurate when tau_syn is close to tau; for tau == tau_syn it is the
    limit R w (s/tau) exp(-s/tau).
    """
    s = np.maximum(s, 0.0)
    if tau == tau_syn:
        return R * w * (s / tau) * np.exp(-s / tau)
    delta = tau - tau_syn
    return R * w * tau_syn / delta * np.exp(-s / tau) * -np.expm1(-s * delta / (tau * tau_syn))


# -- (a) i_offset step response --------------------------------------------------------


def test_step_response_every_sample():
    V_rest = np.array([-65.0, 0.0, 12.5])
    R = np.array([2.5, 1.0, 40.0])
    i_offset = np.array([0.4, -1.5, 0.01])
    tau = np.array([12.0, 3.0, 50.0])
    cells = sim.Population(3, sim.LeakyIntegrator(V_rest=V_rest, R=R, i_offset=i_offset, tau=tau))
    cells.initialize(v=V_rest)
    cells.record("v")
    sim.run(50.0)

    t, v = signal(cells, "v")
    k = np.arange(501)
    assert v.shape == (501, 3)
    np.testing.assert_allclose(t, k * DT, rtol=0, atol=1e-12)
    expected = step_response((k * DT)[:, None], V_rest, R, i_offset, tau)
    np.testing.assert_allclose(v, expected, rtol=0, atol=TOL_F64)


def test_step_response_from_other_initial_value():
    cells = sim.Population(1, sim.LeakyIntegrator(V_rest=-70.0, R=10.0, i_offset=0.3, tau=8.0))
    cells.initialize(v=-50.0)  # above v_inf = -67: relaxes downwards
    cells.record("v")
    sim.run(40.0)
    _, v = signal(cells, "v")
    t = np.arange(401) * DT
    np.testing.assert_allclose(
        v[:, 0], step_response(t, -70.0, 10.0, 0.3, 8.0, v0=-50.0), rtol=0, atol=TOL_F64
    )


# -- (b) one spike through one synapse ---------------------------------------------------

T_SPIKE, DELAY = 2.0, 1.5
K_ARRIVE = 35  # (T_SPIKE + DELAY) / DT


@pytest.mark.parametrize(
    "receptor, w, tau, tau_syn",
    [
        ("excitatory", 0.7, 10.0, 5.0),
        ("excitatory", 0.7, 4.0, 20.0),  # tau_syn > tau
        ("excitatory", 1.3, 10.0, 10.0),  # tau == tau_syn: s/tau exp(-s/tau) limit
        ("excitatory", 1.3, 10.0, 10.0 * (1 + 1e-9)),  # nearly equal: no cancellation
        ("inhibitory", -0.9, 15.0, 3.0),
    ],
)
def test_single_spike_psc_and_psp(receptor, w, tau, tau_syn):
    R, V_rest = 3.0, -60.0
    syn = "tau_syn_E" if receptor == "excitatory" else "tau_syn_I"
    isyn = "isyn_exc" if receptor == "excitatory" else "isyn_inh"
    params = dict(tau=tau, R=R, V_rest=V_rest, **{syn: tau_syn})
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[T_SPIKE]))
    # Two identical targets, each recording one variable.
    for_v = sim.Population(1, sim.LeakyIntegrator(**params))
    for_i = sim.Population(1, sim.LeakyIntegrator(**params))
    for target in (for_v, for_i):
        target.initialize(v=V_rest)
        sim.Projection(
            src,
            target,
            sim.OneToOneConnector(),
            sim.StaticSynapse(weight=w, delay=DELAY),
            receptor_type=receptor,
        )
    for_v.record("v")
    for_i.record(isyn)
    sim.run(60.0)

    k = np.arange(601)
    s = (k - K_ARRIVE) * DT
    _, i_rec = signal(for_i, isyn)
    _, v_rec = signal(for_v, "v")
    assert i_rec.shape == v_rec.shape == (601, 1)

    np.testing.assert_allclose(i_rec[:, 0], psc(s, w, tau_syn), rtol=0, atol=1e-12)
    assert i_rec[K_ARRIVE - 1, 0] == 0.0 and i_rec[K_ARRIVE, 0] == w

    np.testing.assert_allclose(
        v_rec[:, 0], V_rest + psp(s, R, w, tau, tau_syn), rtol=0, atol=TOL_F64
    )
    # v(t_s + d) is not affected yet, v(t_s + d + dt) is.
    assert np.all(v_rec[: K_ARRIVE + 1, 0] == V_rest)
    assert v_rec[K_ARRIVE + 1, 0] != V_rest


def test_initial_synaptic_current():
    """initialize(isyn_exc=I0, isyn_inh=J0): both decay from t = 0 and drive v as a PSP."""
    tau, R = 10.0, 2.0
    cells = sim.Population(2, sim.LeakyIntegrator(tau=tau, R=R, tau_syn_E=5.0, tau_syn_I=10.0))
    cells.initialize(isyn_exc=np.array([1.0, 0.0]), isyn_inh=np.array([0.0, -0.5]))
    cells.record("v")
    sim.run(30.0)
    _, v = signal(cells, "v")
    t = np.arange(301) * DT
    np.testing.assert_allclose(v[:, 0], psp(t, R, 1.0, tau, 5.0), rtol=0, atol=TOL_F64)
    np.testing.assert_allclose(v[:, 1], psp(t, R, -0.5, tau, 10.0), rtol=0, atol=TOL_F64)


def test_two_spikes_superpose():
    """Linearity: two spikes give the sum of two shifted PSPs (and PSCs)."""
    tau, tau_syn, R, w = 10.0, 2.0, 5.0, 0.4
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0, 3.7]))
    cells = sim.Population(1, sim.LeakyIntegrator(tau=tau, tau_syn_E=tau_syn, R=R))
    sim.Projection(src, cells, sim.OneToOneConnector(), sim.StaticSynapse(weight=w, delay=0.4))
    cells.record("v")
    sim.run(30.0)
    _, v = signal(cells, "v")
    k = np.arange(301)
    expected = sum(psp((k - k_arr) * DT, R, w, tau, tau_syn) * (k >= k_arr) for k_arr in (14, 41))
    np.testing.assert_allclose(v[:, 0], expected, rtol=0, atol=TOL_F64)


# -- (c) exact delay table ----------------------------------------------------------------


@pytest.mark.parametrize("n_targets", [40])
def test_exact_delay_table(n_targets):
    """Cell i gets delay (i + 1) dt: isyn jumps at 1.0 + d, v first moves at 1.0 + d + dt."""
    V_rest = -70.0
    delays = [round(0.1 * (i + 1), 10) for i in range(n_targets)]
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cells_v = sim.Population(n_targets, sim.LeakyIntegrator(V_rest=V_rest))
    cells_i = sim.Population(n_targets, sim.LeakyIntegrator(V_rest=V_rest))
    for cells in (cells_v, cells_i):
        cells.initialize(v=V_rest)
        conns = [(0, i, 0.5, d) for i, d in enumerate(delays)]
        sim.Projection(src, cells, sim.FromListConnector(conns, column_names=["weight", "delay"]))
    cells_v.record("v")
    cells_i.record("isyn_exc")
    sim.run(10.0)

    _, v = signal(cells_v, "v")
    _, isyn = signal(cells_i, "isyn_exc")
    spike_step = 10  # 1.0 ms
    delay_steps = np.arange(1, n_targets + 1)
    changed = v != V_rest
    assert changed.any(axis=0).all()
    first_v = changed.argmax(axis=0)
    first_i = (isyn != 0).argmax(axis=0)
    np.testing.assert_array_equal(first_i, spike_step + delay_steps)
    np.testing.assert_array_equal(first_v, spike_step + delay_steps + 1)


def test_delays_are_not_averaged_within_one_target():
    """Two synapses with different delays onto one cell: two separate jumps of isyn."""
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[0.5]))
    cells = sim.Population(1, sim.LeakyIntegrator(tau_syn_E=1e6))  # isyn ~ a step function
    conns = [(0, 0, 1.0, 0.3), (0, 0, 2.0, 2.0)]
    sim.Projection(src, cells, sim.FromListConnector(conns, column_names=["weight", "delay"]))
    cells.record("isyn_exc")
    sim.run(5.0)
    _, isyn = signal(cells, "isyn_exc")
    k = np.arange(51)
    decay = np.exp(-np.maximum(k - 8, 0) * DT / 1e6)
    expected = 1.0 * (k >= 8) * decay + 2.0 * (k >= 25) * np.exp(-np.maximum(k - 25, 0) * DT / 1e6)
    np.testing.assert_allclose(isyn[:, 0], expected, rtol=0, atol=1e-12)


def test_many_sources_many_delays_superpose():
    """30 sources (some spiking in the same step, some twice in one step) onto 20 cells
    through random on-grid delays and weights, both receptors: isyn and v are the sums of
    the single-synapse solutions."""
    rng = np.random.default_rng(2024)
    n_src, n_cells, n_steps = 30, 20, 400
    tau, tau_E, tau_I, R = 10.0, 3.0, 7.0, 2.0
    spike_steps = [
        np.sort(rng.choice(np.arange(1, 150), size=rng.integers(0, 6))) for _ in range(n_src)
    ]
    spike_steps[0] = np.array([20, 20, 21])  # a repeated time: two spikes in one step
    for i in range(1, 12):
        spike_steps[i] = np.append(spike_steps[i], 50)  # many sources in one step
        spike_steps[i].sort()
    times = [[round(k * DT, 10) for k in steps] for steps in spike_steps]
    src = sim.Population(n_src, sim.SpikeSourceArray(spike_times=[Sequence(t) for t in times]))
    cells_v = sim.Population(
        n_cells, sim.LeakyIntegrator(tau=tau, tau_syn_E=tau_E, tau_syn_I=tau_I, R=R)
    )
    cells_i = sim.Population(
        n_cells, sim.LeakyIntegrator(tau=tau, tau_syn_E=tau_E, tau_syn_I=tau_I, R=R)
    )
    synapses = {}
    for receptor, sign in (("excitatory", 1.0), ("inhibitory", -1.0)):
        pairs = np.argwhere(rng.random((n_src, n_cells)) < 0.4)
        delays = rng.integers(1, 60, size=len(pairs))
        weights = sign * rng.uniform(0.05, 1.0, size=len(pairs))
        conns = [
            (int(i), int(j), float(w), round(d * DT, 10))
            for (i, j), w, d in zip(pairs, weights, delays)
        ]
        synapses[receptor] = (pairs, weights, delays)
        for cells in (cells_v, cells_i):
            sim.Projection(
                src,
                cells,
                sim.FromListConnector(conns, column_names=["weight", "delay"]),
                receptor_type=receptor,
            )
    cells_v.record("v")
    cells_i.record(["isyn_exc", "isyn_inh"])
    sim.run(n_steps * DT)

    k = np.arange(n_steps + 1)[:, None]
    expected = {"isyn_exc": 0.0, "isyn_inh": 0.0, "v": 0.0}
    for receptor, tau_syn, name in (
        ("excitatory", tau_E, "isyn_exc"),
        ("inhibitory", tau_I, "isyn_inh"),
    ):
        pairs, weights, delays = synapses[receptor]
        arrivals = np.zeros((n_steps + 1, n_cells))  # summed weight arriving at each step
        for (i, j), w, d in zip(pairs, weights, delays):
            for s in spike_steps[i]:
                if s + d <= n_steps:
                    arrivals[s + d, j] += w
        for k_arr in np.flatnonzero(arrivals.any(axis=1)):
            s = (k - k_arr) * DT
            expected[name] = expected[name] + psc(s, arrivals[k_arr], tau_syn)
            expected["v"] = expected["v"] + psp(s, R, arrivals[k_arr], tau, tau_syn) * (s >= 0)
    for name in ("isyn_exc", "isyn_inh"):
        _, rec = signal(cells_i, name)
        np.testing.assert_allclose(rec, expected[name], rtol=0, atol=1e-10, err_msg=name)
    _, v = signal(cells_v, "v")
    np.testing.assert_allclose(v, expected["v"], rtol=0, atol=TOL_F64)


# -- (d) explicit methods converge with their order --------------------------------------

ORDERS = {"euler": 1, "rk2": 2, "rk4": 4}


def _max_error(dt):
    sim.setup(timestep=dt)
    tau, tau_syn, R, i_offset, w = 10.0, 5.0, 2.0, 0.5, 1.0
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))  # on the grid of every dt
    pops = {}
    for method in ("exp_auto", *ORDERS):
        pops[method] = sim.Population(
            1,
            sim.LeakyIntegrator(method=method, tau=tau, tau_syn_E=tau_syn, R=R, i_offset=i_offset),
        )
        sim.Projection(
            src, pops[method], sim.OneToOneConnector(), sim.StaticSynapse(weight=w, delay=1.0)
        )
        pops[method].record("v")
    sim.run(20.0)
    n = int(round(20.0 / dt)) + 1
    t = np.arange(n) * dt
    exact = step_response(t, 0.0, R, i_offset, tau) + psp(t - 2.0, R, w, tau, tau_syn) * (t >= 2.0)
    errors = {}
    for method, pop in pops.items():
        _, v = signal(pop, "v")
        assert v.shape == (n, 1)
        errors[method] = np.abs(v[:, 0] - exact).max()
    return errors


def test_methods_converge_with_expected_order():
    dts = (0.1, 0.05, 0.025)
    errors = [_max_error(dt) for dt in dts]
    for e in errors:
        assert e["exp_auto"] < 1e-12  # exact at every dt
    for method, order in ORDERS.items():
        err = np.array([e[method] for e in errors])
        assert np.all(err > 0)
        observed = np.log2(err[:-1] / err[1:])
        # Halving dt divides the error by 2**order (measured: within 0.02 of the order).
        np.testing.assert_allclose(observed, order, atol=0.15, err_msg=method)


# -- (e) white noise on v: Ornstein-Uhlenbeck statistics -------------------------------


@pytest.mark.parametrize("method, bias", [("exp_auto", 0.0), ("euler", 0.005)])
def test_noise_stationary_variance(method, bias):
    """dv = -v/tau dt + sigma dW: stationary Var v = sigma^2 tau / 2, corr(lag) = exp(-lag/tau).

    2000 cells, samples at t = 100, 150, ..., 400 ms (5 tau apart, so practically
    independent): 14000 samples, relative standard error of the variance sqrt(2/14000)
    = 1.2 %. Tolerances are 5 standard errors. Euler's discrete OU process has variance
    sigma^2 tau / (2 - dt/tau), 0.5 % above (the `bias`).
    """
    sim.setup(timestep=DT, rng_seed=12345)
    sigma, tau, n = 1.5, 10.0, 2000
    cells = sim.Population(n, sim.LeakyIntegrator(method=method, V_rest=0.0, noise=sigma, tau=tau))
    cells.record("v", sampling_interval=10.0)
    sim.run(400.0)
    t, v = signal(cells, "v")
    np.testing.assert_allclose(t, np.arange(41) * 10.0, atol=1e-9)

    samples = v[10::5]  # 100, 150, ..., 400 ms
    n_samples = samples.size
    target = sigma**2 * tau / 2 * (1 + bias)
    assert samples.var() == pytest.approx(target, rel=5 * np.sqrt(2 / n_samples))
    assert abs(samples.mean()) < 5 * np.sqrt(target / n_samples)

    # Autocorrelation over 10 ms = tau: exp(-1); standard error (1 - r^2)/sqrt(n).
    a, b = v[10:-1].ravel(), v[11:].ravel()
    r = np.corrcoef(a, b)[0, 1]
    assert r == pytest.approx(np.exp(-1), abs=5 * (1 - np.exp(-2)) / np.sqrt(7 * n))

    # The first sample is the initial value, before any noise.
    assert np.all(v[0] == 0.0)


def test_noise_transient_variance():
    """From v = V_rest, Var v(t) = sigma^2 tau/2 (1 - exp(-2t/tau)) (exact for exp_auto)."""
    sim.setup(timestep=DT, rng_seed=7)
    sigma, tau, n = 2.0, 10.0, 4000
    cells = sim.Population(n, sim.LeakyIntegrator(V_rest=-65.0, noise=sigma, tau=tau))
    cells.initialize(v=-65.0)
    cells.record("v", sampling_interval=5.0)
    sim.run(5.0)
    _, v = signal(cells, "v")
    target = sigma**2 * tau / 2 * (1 - np.exp(-2 * 5.0 / tau))
    assert v[1].var() == pytest.approx(target, rel=5 * np.sqrt(2 / n))
    assert abs(v[1].mean() + 65.0) < 5 * np.sqrt(target / n)


# -- (f) float32 ---------------------------------------------------------------------------
#
# Stated tolerance: relative 1e-4, i.e. |v - v_exact| <= 1e-4 |v_exact| (numpy's rtol).
# float32 eps is 1.2e-7; a relaxing v settles anywhere in a rounding band of about
# ulp(|v|) * tau / dt around its fixed point, ~1e-5 relative at tau/dt = 100.

TOL_F32_REL = 1e-4


def _float32_trace(V_rest, t_stop):
    sim.setup(timestep=DT, precision="float32")
    tau, tau_syn, R, i_offset, w = 10.0, 5.0, 2.0, 0.5, 1.0
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cells = sim.Population(
        1, sim.LeakyIntegrator(tau=tau, tau_syn_E=tau_syn, R=R, i_offset=i_offset, V_rest=V_rest)
    )
    cells.initialize(v=V_rest)
    sim.Projection(src, cells, sim.OneToOneConnector(), sim.StaticSynapse(weight=w, delay=1.0))
    cells.record("v")
    sim.run(t_stop)
    _, v = signal(cells, "v")
    t = np.arange(v.shape[0]) * DT
    exact = step_response(t, V_rest, R, i_offset, tau) + psp(t - 2.0, R, w, tau, tau_syn) * (t >= 2)
    return v[:, 0], exact


@pytest.mark.parametrize("V_rest", [0.0, -65.0])
def test_float32_agrees_with_analytic(V_rest):
    v, exact = _float32_trace(V_rest, 100.0)
    np.testing.assert_allclose(v, exact, rtol=TOL_F32_REL, atol=1e-6)
    # The option takes effect: float32 rounding is visible (float64 is ~1e-13 off).
    assert np.abs(v - exact).max() > 1e-9


def test_float32_response_relative_to_its_amplitude():
    """With V_rest = 0 the error is also small relative to the response itself."""
    v, exact = _float32_trace(0.0, 100.0)
    assert np.abs(v - exact).max() <= TOL_F32_REL * np.abs(exact).max()


# -- (g) sampling interval -------------------------------------------------------------------


def test_sampling_interval_gives_every_nth_sample():
    params = dict(tau=7.0, R=3.0, i_offset=0.2, tau_syn_E=2.0)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[0.3, 2.2]))
    full = sim.Population(2, sim.LeakyIntegrator(**params))
    coarse = sim.Population(2, sim.LeakyIntegrator(**params))
    for cells in (full, coarse):
        sim.Projection(
            src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5, delay=0.5)
        )
    full.record("v")
    coarse.record("v", sampling_interval=1.0)
    sim.run(4.5)
    sim.run(5.5)  # a run boundary off the sampling grid
    t_full, v_full = signal(full, "v")
    t_coarse, v_coarse = signal(coarse, "v")
    assert v_full.shape == (101, 2)
    assert v_coarse.shape == (11, 2)
    np.testing.assert_allclose(t_coarse, np.arange(11) * 1.0, atol=1e-12)
    np.testing.assert_array_equal(v_coarse, v_full[::10])
    sig = coarse.get_data().segments[0].filter(name="v")[0]
    assert float(sig.sampling_period.rescale("ms")) == pytest.approx(1.0)
    # and the values are the analytic ones
    k = np.arange(0, 101, 10)
    exact = step_response(k * DT, 0.0, 3.0, 0.2, 7.0) + sum(
        psp((k - ka) * DT, 3.0, 0.5, 7.0, 2.0) * (k >= ka) for ka in (8, 27)
    )
    np.testing.assert_allclose(v_coarse[:, 0], exact, rtol=0, atol=TOL_F64)
