"""Scale-out benchmark: children/minute per backend and worker count, idle worker time with
synchronous vs asynchronous updates, a Ray task's overhead, and what a paper-sized search costs.

    python bench/scale.py [--quick] [--gpu-tflops T]

1. Children per minute, 1 and 2 workers on 1 torch thread each, for the process and ray
   backends: the same conv.space children (depth 6, sampled with random.Random(0)), trained
   1 epoch on 256 embedded CIFAR images, through warmed-up executors; the four settings
   alternate in rounds and the table gives medians.
2. Idle fraction of the worker slots, 1 - (sum of child seconds) / (workers x wall time), in
   a real REINFORCE search with 2 process workers: synchronous (m = 4) vs --async 2.
3. A Ray task vs a local call for one child of the default proxy (2 epochs on 400 images),
   1 thread each, alternating.
4. The cost of a paper-sized search on a Ray cluster of G GPUs, from the children's measured
   multiply-adds and per-task overhead, and an ASSUMED sustained GPU throughput (--gpu-tflops).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch

from children import machine_lines, markdown_table  # bench/ is on sys.path
from nascli.arch.sample import sample_architecture
from nascli.children import ChildConfig, build_child, profile_child
from nascli.data.spec import DataSpec
from nascli.runs import RunStore
from nascli.search.evaluate import ChildJob, run_child
from nascli.search.executor import ExecutorConfig, make_executor
from nascli.search.loop import Search, SearchConfig
from nascli.space import load_space
from nascli.space.compiler import compile_space
from nascli.train import RewardConfig, TrainConfig

SPEC = DataSpec(name="cifar10")
PAPER_CHILDREN, PAPER_EPOCHS, PAPER_IMAGES = 12_800, 50, 45_000
ENAS_EPOCHS, ENAS_CONTROLLER_STEPS = 310, 2_000  # per epoch: 2,000 controller steps on one minibatch each


def _jobs(n: int, train: TrainConfig, seed: int = 0) -> list[ChildJob]:
    compiled = compile_space(load_space("conv"))
    rng = random.Random(seed)
    return [ChildJob(child_id=i, arch=sample_architecture(compiled, rng, 6), train=train, reward=RewardConfig(),
                     child=ChildConfig()) for i in range(n)]


def _executor(backend: str, workers: int, data):
    executor = make_executor(SPEC, data, ExecutorConfig(backend=backend, cpus_per_child=1), workers, "cpu")
    list(executor.map(_jobs(workers, TrainConfig(epochs=1, train_subset=8))))  # workers up, torch imported
    return executor


def children_per_minute(rounds: int, n: int, data) -> list[list[str]]:
    jobs = _jobs(n, TrainConfig(epochs=1, train_subset=256))
    settings = [(b, w) for b in ("process", "ray") for w in (1, 2)]
    executors = {s: _executor(*s, data) for s in settings}
    rates: dict[tuple, list[float]] = {s: [] for s in settings}
    try:
        for _ in range(rounds):
            for setting, executor in executors.items():
                start = time.perf_counter()
                results = list(executor.map(jobs))
                assert all(r.status == "done" for r in results), results
                rates[setting].append(60 * n / (time.perf_counter() - start))
    finally:
        for executor in executors.values():
            executor.close()
    rows = []
    for backend in ("process", "ray"):
        one, two = rates[(backend, 1)], rates[(backend, 2)]
        speedup = statistics.median(b / a for a, b in zip(one, two))
        rows.append([backend, f"{statistics.median(one):.2f}", f"{statistics.median(two):.2f}", f"{speedup:.2f}×"])
    return rows


def idle_fraction(budget: int, workdir: Path, data) -> list[list[str]]:
    rows = []
    for name, async_k in (("synchronous, m = 4", None), ("--async 2", 2)):
        config = SearchConfig(data=SPEC, budget=budget, batch=4, workers=2, async_k=async_k, device="cpu",
                              executor=ExecutorConfig(backend="process", cpus_per_child=1),
                              train=TrainConfig(epochs=1, train_subset=256))
        text = (Path(__file__).resolve().parents[1] / "spaces" / "conv.space").read_text()
        store = RunStore.create(workdir / name.replace(" ", ""), config.model_dump(mode="json"), text,
                                hashlib.sha256(text.encode()).hexdigest())
        executor = _executor("process", 2, data)
        try:
            start = time.perf_counter()
            Search(config, compile_space(load_space("conv")), store, executor).run()
            wall = time.perf_counter() - start
            busy = sum(c.seconds for c in store.children())
        finally:
            executor.close()
            store.close()
        rows.append([name, f"{wall:.0f}", f"{busy:.0f}", f"{1 - busy / (2 * wall):.1%}"])
    return rows


def ray_overhead(rounds: int, data) -> tuple[list[list[str]], float]:
    """Wall time of one child both ways, and the Ray task's overhead: its wall time less the
    seconds the child itself reports (so that load slowing the training does not blur it)."""
    job = _jobs(1, TrainConfig(train_subset=400))[0]  # the default proxy: 2 epochs on 400 images
    ray_executor = _executor("ray", 1, data)
    local, remote, overhead = [], [], []
    try:
        for _ in range(rounds):
            torch.set_num_threads(1)
            start = time.perf_counter()
            assert run_child(job, data).status == "done"
            local.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = next(ray_executor.map([job]))
            remote.append(time.perf_counter() - start)
            overhead.append(remote[-1] - result.seconds)
    finally:
        ray_executor.close()
    median = statistics.median(overhead)
    return [["local call", f"{statistics.median(local):.2f}"], ["Ray task", f"{statistics.median(remote):.2f}"],
            ["Ray overhead per child (task wall time − the child's own seconds)", f"{median:.3f}"]], median


def _mean_macs(space: str, depths: list[int | None], samples: int) -> float:
    compiled, rng, task = compile_space(load_space(space)), random.Random(1), SPEC.load().task
    macs = [profile_child(build_child(sample_architecture(compiled, rng, d), task, ChildConfig()), task).macs
            for d in depths for _ in range(samples)]
    return statistics.mean(macs)


def paper_cost(gpu_tflops: float, overhead_s: float, cpu_gflops: float) -> list[list[str]]:
    compiled = compile_space(load_space("conv"))
    schedule = [compiled.depth_at(i) for i in range(0, PAPER_CHILDREN, 1_600)]  # 6, 8, ... as the space grows
    macs = _mean_macs("conv", schedule, 3)
    child_flop = 6 * macs * PAPER_IMAGES * PAPER_EPOCHS  # forward + backward ~ 3 x forward, 2 FLOP per MAC
    gpu_s = child_flop / (gpu_tflops * 1e12) + overhead_s
    nas_gpu_h = PAPER_CHILDREN * gpu_s / 3600
    enas_macs = _mean_macs("enas_macro", [None], 8)
    enas_flop = 6 * enas_macs * PAPER_IMAGES * ENAS_EPOCHS + 2 * enas_macs * 64 * ENAS_CONTROLLER_STEPS * ENAS_EPOCHS
    enas_h = enas_flop / (gpu_tflops * 1e12) / 3600
    rows = [["NAS child, mean over the depth schedule 6→15", f"{macs / 1e6:,.0f}M MACs/image",
             f"{gpu_s / 60:.1f} GPU-min", f"{child_flop / (cpu_gflops * 1e9) / 86400:,.1f} CPU-days"],
            ["NAS search, 12,800 children × 50 epochs", "", f"{nas_gpu_h:,.0f} GPU-h",
             f"G=8: {nas_gpu_h / 8:,.0f} h; G=64: {nas_gpu_h / 64:,.1f} h; G=800: {nas_gpu_h / 800 * 60:,.0f} min"],
            ["ENAS search (310 epochs, one shared model, 1 GPU)", f"{enas_macs / 1e6:,.0f}M MACs/image",
             f"{enas_h:,.1f} GPU-h", "does not spread over G: one super-network"]]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and children")
    parser.add_argument("--gpu-tflops", type=float, default=25.0,
                        help="ASSUMED sustained training TFLOP/s of one GPU on these small convnets (not measured)")
    args = parser.parse_args()
    import ray

    rounds, n = (1, 4) if args.quick else (2, 6)
    print("\n".join(machine_lines()))
    print(f"load average before: {os.getloadavg()}")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
    data = SPEC.load()
    began = time.perf_counter()
    try:
        speed = children_per_minute(rounds, n, data)
        print(f"\n### Children per minute, 1 thread per worker ({n} children, medians of {rounds} rounds)\n")
        print(markdown_table(["backend", "1 worker", "2 workers", "speed-up"], speed))
        overhead_rows, overhead = ray_overhead(rounds + 1, data)
        print("\n### A Ray task vs a local call, one default-proxy child (seconds, medians)\n")
        print(markdown_table(["", "seconds"], overhead_rows))
        with tempfile.TemporaryDirectory() as tmp:
            idle = idle_fraction(8 if args.quick else 12, Path(tmp), data)
        print("\n### Idle worker slots, 2 process workers, a real REINFORCE search\n")
        print(markdown_table(["updates", "wall s", "child s", "idle fraction"], idle))
    finally:
        ray.shutdown()
    macs = statistics.mean(profile_child(build_child(j.arch, data.task, ChildConfig()), data.task).macs
                           for j in _jobs(n, TrainConfig()))
    job_flop = 6 * macs * 256 + 2 * macs * len(data.valid_x)  # train 256 images, then validate
    cpu_gflops = job_flop * float(speed[0][1]) / 60 / 1e9  # process backend, 1 worker, 1 thread
    print(f"\n### Paper-sized searches (measured MACs and Ray overhead; ASSUMED {args.gpu_tflops:g} TFLOP/s per GPU; "
          f"CPU: measured {cpu_gflops:.1f} GFLOP/s on 1 thread)\n")
    print(markdown_table(["search", "per image", "GPU time", "wall on G GPUs / CPU time"],
                         paper_cost(args.gpu_tflops, max(overhead, 0.0), cpu_gflops)))
    print(f"\nload average after: {os.getloadavg()}; benchmark wall time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
