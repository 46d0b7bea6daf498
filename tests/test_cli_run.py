"""``python -m pynn_leaky run SCRIPT ARGS``: unchanged PyNN scripts on pynn_leaky."""

import json
import subprocess
import sys
import textwrap

GET_SIMULATOR = '''
import json
import sys
from pyNN.utility import get_simulator

sim, args = get_simulator(("--out", "result file"), ("--time", "ms", {"type": float}))
sim.setup(timestep=0.1)
src = sim.Population(3, sim.SpikeSourceArray(spike_times=[[1.0, 4.0]] * 3))
cells = sim.Population(3, sim.IF_curr_delta(v_thresh=-64.0))
sim.Projection(src, cells, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.6, delay=1.0))
cells.record(["spikes", "v"])
sim.run(args.time)
seg = cells.get_data().segments[0]
json.dump({"module": sim.__name__, "argv": sys.argv[1:], "name": __name__,
           "spikes": [list(map(float, s.magnitude)) for s in seg.spiketrains],
           "n_v": len(seg.filter(name="v")[0])}, open(args.out, "w"))
sim.end()
'''

IMPORT_BY_NAME = '''
import pyNN.leaky as sim
from pyNN import leaky
assert leaky is sim
sim.setup()
sim.run(1.0)
print("ran", sim.get_current_time(), sim.__name__)
raise SystemExit(3)
'''


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pynn_leaky", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_get_simulator_script_runs_on_leaky(tmp_path):
    script = tmp_path / "net.py"
    script.write_text(textwrap.dedent(GET_SIMULATOR))
    out = tmp_path / "out.json"
    res = _cli("run", str(script), "leaky", "--out", str(out), "--time", "10.0")
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["module"] == "pynn_leaky" and result["name"] == "__main__"
    assert result["argv"] == ["leaky", "--out", str(out), "--time", "10.0"]
    # 0.6 mV arriving at 2 ms and 5 ms: the second reaches -64 mV (threshold), at 5 ms
    assert result["spikes"] == [[5.0]] * 3 and result["n_v"] == 101


def test_import_by_name_and_exit_status(tmp_path):
    script = tmp_path / "by_name.py"
    script.write_text(IMPORT_BY_NAME)
    res = _cli("run", str(script))
    assert res.returncode == 3, res.stderr[-3000:]
    assert "ran 1.0 pynn_leaky" in res.stdout


def test_missing_script_and_help(tmp_path):
    res = _cli("run", str(tmp_path / "nope.py"))
    assert res.returncode == 2 and "no such script" in res.stderr
    res = _cli("--help")
    assert res.returncode == 0 and "run" in res.stdout and "compare" in res.stdout
