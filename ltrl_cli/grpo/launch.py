"""Build the torchrun command line for a run and hand it to a launch function.

`ltrl grpo` never trains in its own process: it resolves the settings, writes them to
OUTDIR/ltrl-grpo.yaml, and starts

    python -m torch.distributed.run --nproc-per-node N [--standalone | multi-node options] \\
        -m ltrl_cli.grpo.recipe --config OUTDIR/ltrl-grpo.yaml

The launch function is injectable (TRL's `launch_command_fn` does the same), so tests can
check the command without starting anything. The child inherits stdin, stdout and
stderr: rank 0's JSONL metrics go straight to the user's stdout, untouched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ltrl_cli import console
from ltrl_cli.errors import BackendError, UsageError, check_installed
from ltrl_cli.io import stdout_to_stderr
from ltrl_cli.grpo.config import (CONFIG_NAME, GrpoSettings, batch_layout, grpo_config, latest_checkpoint, merge,
                                  read_yaml, require_vllm, trackers, uses_vllm, uses_vllm_server, write_yaml)

RECIPE_MODULE = "ltrl_cli.grpo.recipe"
# --report-to NAME -> the module it needs (the extra of the same name installs it).
TRACKER_MODULES = {"tensorboard": "tensorboard", "wandb": "wandb", "trackio": "trackio"}

@dataclass
class Topology:
    """Where the processes run: torchrun's own options, passed through as given."""

    nproc_per_node: str = "auto"  # "auto" or a number
    nnodes: str = "1"  # "2", or an elastic range "1:4"
    node_rank: int | None = None
    rdzv_endpoint: str | None = None  # host:port of the rendezvous (multi-node)
    rdzv_id: str = "ltrl-grpo"
    rdzv_backend: str = "c10d"
    master_port: int | None = None  # single node: a fixed port instead of a free one


def visible_gpus() -> int:
    """CUDA devices this process can see (CUDA_VISIBLE_DEVICES applies).

    Without an NVIDIA or AMD driver there is nothing to count, and the answer comes
    without importing torch (seconds saved on every CPU launch).
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        return 0
    drivers = ("/proc/driver/nvidia/gpus", "/dev/nvidiactl", "/dev/kfd")
    if not any(Path(p).exists() for p in drivers):
        return 0
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_nproc(nproc_per_node: str, gpus: int) -> int:
    """`auto` is one process per visible GPU, or one CPU process when there is none.

    (torchrun's own `auto` would start one process per CPU core on a machine without GPUs.)

    >>> resolve_nproc("auto", 8), resolve_nproc("auto", 0), resolve_nproc("2", 0)
    (8, 1, 2)
    """
    if nproc_per_node == "auto":
        return max(gpus, 1)
    try:
        count = int(nproc_per_node)
    except ValueError:
        raise UsageError(f"--nproc-per-node {nproc_per_node!r}: expected 'auto' or a number") from None
    if count < 1:
        raise UsageError(f"--nproc-per-node {count}: need at least 1")
    return count


def is_multi_node(topology: Topology) -> bool:
    return topology.nnodes not in ("1", "1:1")


def torchrun_argv(topology: Topology, nproc: int, config_path: str, *, python: str | None = None) -> list[str]:
    """The full command: torchrun (as `python -m torch.distributed.run`) plus the recipe.

    Running torchrun through the current interpreter keeps the child in the same
    environment as `ltrl` itself, whichever `torchrun` is first on PATH.

    >>> torchrun_argv(Topology(), 1, "out/ltrl-grpo.yaml", python="py")[3:]
    ['--nproc-per-node', '1', '--standalone', '-m', 'ltrl_cli.grpo.recipe', '--config', 'out/ltrl-grpo.yaml']
    """
    argv = [python or sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
    if is_multi_node(topology):
        if not topology.rdzv_endpoint:
            raise UsageError(f"--nnodes {topology.nnodes} needs --rdzv-endpoint HOST:PORT (the same on every node)")
        argv += ["--nnodes", topology.nnodes, "--rdzv-backend", topology.rdzv_backend,
                 "--rdzv-endpoint", topology.rdzv_endpoint, "--rdzv-id", topology.rdzv_id]
        if topology.node_rank is not None:
            argv += ["--node-rank", str(topology.node_rank)]
    elif topology.master_port is not None:
        argv += ["--nnodes", "1", "--master-addr", "127.0.0.1", "--master-port", str(topology.master_port)]
    else:
        argv += ["--standalone"]  # a free port on localhost: several runs can share a machine
    return argv + ["-m", RECIPE_MODULE, "--config", config_path]


def subprocess_launch(argv: Sequence[str]) -> int:
    """Run the command with our stdin/stdout/stderr and return its exit code.

    Ctrl-C reaches the child through the terminal's process group; a SIGTERM sent to
    `ltrl` alone is passed on, so a scheduler's kill stops the training processes too.
    """
    child = subprocess.Popen(list(argv))
    previous = signal.getsignal(signal.SIGTERM)

    def forward(signum, frame):
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                code = child.wait()
                return 128 - code if code < 0 else code  # killed by signal N: exit 128 + N, as a shell says
            except KeyboardInterrupt:  # torchrun got the same Ctrl-C; wait for it to stop its workers
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def resolve_settings(
    flags: Mapping[str, Any], config_file: str | None = None, assignments: Mapping[str, Any] | None = None
) -> GrpoSettings:
    """Defaults, then (on --resume) the settings the run was started with, then the config
    file, then `--set` pairs, then flags: each layer overrides the one before.

    Resuming needs only `-o OUTDIR --resume`: model, data and the rest come from the run.
    """
    base = GrpoSettings()
    output_dir = flags.get("output_dir")
    if flags.get("resume") and output_dir:
        saved = latest_checkpoint(output_dir)
        for candidate in ([saved / CONFIG_NAME] if saved else []) + [Path(output_dir) / CONFIG_NAME]:
            if candidate.is_file():
                base = merge(base, read_yaml(candidate))
                break
    file_layer = read_yaml(config_file) if config_file else {}
    settings = merge(base, file_layer, assignments or {}, flags)
    for key, flag in (("model", "--model"), ("data", "--data"), ("output_dir", "-o/--output-dir")):
        if not getattr(settings, key):
            raise UsageError(f"missing {flag} (or `{key}:` in the config file)")
    check_source(settings.data, "--data")
    if settings.eval_benchmark:
        from ltrl_cli.grpo.benchmark import check_grader

        check_grader(settings)
    else:
        check_source(settings.eval_data, "--eval-data")
    if settings.model.startswith((".", "/", "~")) and not Path(settings.model).expanduser().exists():
        raise UsageError(f"--model {settings.model}: no such folder")  # a name (org/model) may be in the hub cache
    return settings


def prepare(settings: GrpoSettings, topology: Topology, *, gpus: int | None = None, command_line: str = "") -> list[str]:
    """Check the run can start, write OUTDIR/ltrl-grpo.yaml, and return the torchrun argv."""
    if uses_vllm(settings):
        require_vllm()
    # Trackers' modules may print as they load (W&B's offline notice), and TRL's config and
    # transformers' integrations load them: never onto the records' stdout.
    with stdout_to_stderr():
        check_trackers(trackers(settings))
    if gpus is None:
        gpus = 0 if settings.use_cpu else visible_gpus()
    if uses_vllm_server(settings) and (settings.use_cpu or not gpus):
        raise UsageError("--vllm-mode server pushes the trained weights to the server over NCCL, which needs a "
                         "CUDA GPU for training; without one use --vllm (colocated) or plain generation")
    nproc = resolve_nproc(topology.nproc_per_node, 0 if settings.use_cpu else gpus)
    check_data(settings.data, "--data")
    if settings.eval_data:
        check_data(settings.eval_data, "--eval-data", benchmark=settings.eval_benchmark)
    if topology.nnodes.isdigit():  # an elastic range (1:4) is only known at rendezvous
        batch_layout(settings, nproc * int(topology.nnodes))
    # TRL's own checks, once, here: every rank builds the same GRPOConfig from the same file.
    # This process is not one of the ranks, so TRL sees one process; the layout over the
    # ranks is batch_layout's check above.
    with stdout_to_stderr():
        grpo_config(settings, 1, on_gpu=bool(gpus) and not settings.use_cpu)
    header = f"# {command_line}\n" if command_line else ""
    path = write_yaml(settings, Path(settings.output_dir) / CONFIG_NAME,
                      header=header + "# resolved by ltrl grpo; every rank reads this file\n")
    return torchrun_argv(topology, nproc, str(path))


SERVE_HINT = ("start it with `VLLM_SERVER_DEV_MODE=1 vllm serve MODEL --weight-transfer-config "
              "'{\"backend\": \"nccl\"}'` (or `trl vllm-serve --model MODEL`)")


def check_vllm_server(url: str, timeout: float, *, poll: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> None:
    """Before any process starts, check the vLLM server TRL will use in server mode.

    Waits up to `timeout` seconds for `/health` (a server started at the same time as the
    run is still loading its model), then asks `/server_info` whether it can take weight
    updates: TRL needs vLLM's development endpoints and its NCCL weight-transfer engine.
    Each failure is one BackendError that says how to start the server.
    """
    base = url.rstrip("/")
    deadline, waited = time.monotonic() + timeout, False
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
                if response.status == 200:
                    break
                reason = f"/health answered {response.status}"
        except urllib.error.HTTPError as exc:
            reason = f"/health answered {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            raise BackendError(f"vLLM server {base} did not answer within {timeout:g} s "
                               f"(vllm_server_timeout): {reason}; {SERVE_HINT}")
        if not waited:
            console.info(f"grpo: waiting up to {timeout:g} s for the vLLM server at {base} ({reason})")
            waited = True
        sleep(poll)
    try:
        with urllib.request.urlopen(f"{base}/server_info?config_format=json", timeout=30) as response:
            info = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise BackendError(f"vLLM server {base} does not expose the development endpoints TRL uses to "
                               f"update its weights; {SERVE_HINT}") from None
        raise BackendError(f"vLLM server {base}: /server_info answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BackendError(f"vLLM server {base}: /server_info failed: {getattr(exc, 'reason', exc)}") from None
    config = info.get("vllm_config") if isinstance(info, dict) else None
    if not isinstance(config, dict) or config.get("weight_transfer_config") is None:
        raise BackendError(f"vLLM server {base} has no weight-transfer engine, so training could not update "
                           f"it; {SERVE_HINT}")


def check_trackers(names: list[str]) -> None:
    """Each --report-to name is one of transformers' integrations, and the three ltrl has
    extras for are installed (the ranks would fail only after loading the model)."""
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    for name in names:
        if name == "all":  # transformers' "every integration installed"
            continue
        if name not in INTEGRATION_TO_CALLBACK:
            raise UsageError(f"--report-to {name!r}: expected none, all or one of "
                             f"{', '.join(sorted(INTEGRATION_TO_CALLBACK))}")
        if name in TRACKER_MODULES:
            check_installed(TRACKER_MODULES[name], name, f"--report-to {name}")


def check_source(source: str | None, flag: str) -> None:
    """A local file must exist; a folder must be a save_to_disk folder; any other name is
    taken for a hub dataset (loaded, or refused, by check_data)."""
    from ltrl_cli.grpo.data import data_kind

    if source and data_kind(source) in ("jsonl", "parquet") and not Path(source).expanduser().is_file():
        raise UsageError(f"{flag} {source}: no such file")


def check_data(source: str, flag: str = "--data", *, benchmark: str | None = None) -> int:
    """Read the data once before any process starts: a bad line fails here, with its line
    number, instead of on every rank after the imports. Returns the record count."""
    from ltrl_cli.grpo.data import iter_rows, load_rows

    count = len(load_rows(source, benchmark=benchmark)) if benchmark else sum(1 for _ in iter_rows(source))
    if not count:
        raise UsageError(f"{flag} {source}: no training records in it")
    return count
