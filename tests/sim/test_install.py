"""Installing the simulation in a process (done in a subprocess: it patches ``time``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.protocol.values import Workload, from_wire, request_decoder, to_wire
from grader.protocol.wire import ProtocolError
from grader.sim.workloads import sim_kernel

REPO = Path(__file__).resolve().parents[2]

PROGRAM = """
import json, time
real = time.perf_counter
from grader.sim.install import workload_builder, install
{setup}
from time import perf_counter, sleep
import timeit, torch
started = real()
fn = build(sim_kernel(duration_ms=200.0, first_ms=200.0, slow_calls=1, jitter=0.0,
                      hiccup_every=0))
torch.cuda.synchronize()
t0 = perf_counter()
for _ in range(50):  # 10 s of simulated device time
    fn()
launched = perf_counter() - t0
torch.cuda.synchronize()
total = perf_counter() - t0
start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
start.record(); fn(); end.record()
try:
    start.elapsed_time(end)
    raised = False
except RuntimeError:
    raised = True
torch.cuda.current_stream().synchronize()
t1 = time.monotonic(); sleep(3.0); slept = time.monotonic() - t1
print(json.dumps({{
    "launched": launched, "total": total, "event_ms": start.elapsed_time(end),
    "raised": raised, "slept": slept, "real": real() - started,
    "available": torch.cuda.is_available(), "name": torch.cuda.get_device_name(),
    "timeit": timeit.default_timer is perf_counter, "wall": time.time() > 1.6e9,
}}))
"""

STANDIN = (
    "from grader.sim.workloads import SimKernel\n"
    "from grader.sim.workloads import sim_kernel\n"
    "dev = install(real_torch=False)\n"
    "def build(spec):\n"
    "    dev.idle()\n"
    "    return SimKernel(dev, spec)\n"
)
# the worker's proxy, asking a judge's session in this process (in a worker: over its pipe)
REAL = """
from grader.sim.session import Session
from grader.sim.workloads import sim_kernel
session = Session()
class Loopback:
    open, on_open, on_close = True, [], []
    ask = staticmethod(session.answer)
channel = Loopback()
to_kernel = workload_builder('simulated_cuda', channel)
for hook in channel.on_open:
    hook()
def build(spec):
    return to_kernel(session.kernel(spec))
"""


def run_program(setup: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(setup=setup)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "setup", [STANDIN, REAL], ids=["torch stand-in, local device", "real torch, proxy"]
)
def test_simulated_clock_and_cuda(setup):
    got = run_program(setup)
    assert got["launched"] < 0.001  # 50 asynchronous launches: microseconds
    assert got["total"] == pytest.approx(10.0, rel=1e-3)  # synchronize waits 10 s of device time
    assert got["raised"] is True  # elapsed_time before the end event completed
    assert got["event_ms"] == pytest.approx(200.0, rel=1e-3)
    assert got["slept"] == pytest.approx(3.0, abs=1e-5)
    assert got["real"] < 0.5  # ... and none of those 13 simulated seconds really passed
    assert got["available"] is True and got["name"] == "Simulated GPU"
    assert got["timeit"] is True and got["wall"] is True


def test_workloads_cross_the_wire_as_specs():
    spec = sim_kernel(duration_ms=1.5)
    blobs: list = []
    node = to_wire(spec, blobs)
    decoder = request_decoder(lambda i: None, build=lambda w: ("fn", w))
    built = from_wire({"t": "list", "items": [node]}, blobs, decoder)
    assert built == [("fn", spec)]  # worker side: what the builder makes of it


@pytest.mark.parametrize(
    "node",
    [
        {"t": "workload", "kind": "os.system", "params": []},
        {"t": "workload", "kind": "sim_kernel", "params": [["duration_ms", "2"]]},
        {"t": "workload", "kind": "sim_kernel", "params": [["x", 1.0]] * 17},
        {"t": "workload", "kind": "sim_kernel", "params": {"duration_ms": 1.0}},
    ],
)
def test_malformed_workloads_are_protocol_errors(node):
    decoder = request_decoder(lambda i: None, build=lambda w: ("fn", w))
    with pytest.raises(ProtocolError, match="workload"):
        from_wire(node, [], decoder)


def test_workload_param_lookup():
    assert Workload("matmul", (("n", 64.0),)).param("n") == 64.0
    assert Workload("matmul").param("n", 3.0) == 3.0
