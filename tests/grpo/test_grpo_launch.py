"""The torchrun command line, built and handed to an injected launch function."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ltrl_cli.errors import UsageError
from ltrl_cli.grpo import launch as L
from ltrl_cli.grpo.config import CONFIG_NAME, GrpoSettings, load, merge

RECORD = '{"id": "q1", "input_messages": [{"role": "user", "content": "Q?"}], "label": "A", "metadata": {"rubrics": []}}\n'


def _settings(tmp_path, **extra) -> GrpoSettings:
    data = tmp_path / "d.jsonl"
    data.write_text(RECORD)
    return merge(GrpoSettings(), {"model": "m", "data": str(data), "output_dir": str(tmp_path / "run"), **extra})


def test_one_cpu_process_without_gpus(tmp_path):
    argv = L.prepare(_settings(tmp_path), L.Topology(), gpus=0)
    assert argv[1:5] == ["-m", "torch.distributed.run", "--nproc-per-node", "1"]
    assert "--standalone" in argv
    assert argv[-4:] == ["-m", "ltrl_cli.grpo.recipe", "--config", str(tmp_path / "run" / CONFIG_NAME)]
    assert load(argv[-1]).model == "m"  # the recipe reads exactly what the launcher resolved


def test_one_process_per_gpu_and_explicit_counts(tmp_path):
    assert L.prepare(_settings(tmp_path), L.Topology(), gpus=8)[4] == "8"
    assert L.prepare(_settings(tmp_path), L.Topology(nproc_per_node="2"), gpus=0)[4] == "2"
    assert L.prepare(_settings(tmp_path, use_cpu=True), L.Topology(), gpus=8)[4] == "1"  # --cpu


def test_multi_node_options_pass_through(tmp_path):
    topo = L.Topology(nproc_per_node="8", nnodes="2", node_rank=1, rdzv_endpoint="node0:29500")
    argv = L.prepare(_settings(tmp_path), topo, gpus=8)
    joined = " ".join(argv)
    assert "--nnodes 2 --rdzv-backend c10d --rdzv-endpoint node0:29500" in joined
    assert "--node-rank 1" in joined and "--standalone" not in joined
    with pytest.raises(UsageError, match="needs --rdzv-endpoint"):
        L.prepare(_settings(tmp_path), L.Topology(nnodes="2"), gpus=8)


def test_batch_must_split_over_the_processes(tmp_path):
    # 16 prompts x 8 = 128 completions cannot be cut into 3 ranks x 8.
    with pytest.raises(UsageError, match="do not split evenly over 3"):
        L.prepare(_settings(tmp_path), L.Topology(nproc_per_node="3"), gpus=0)


def test_cli_exits_with_torchruns_code(tmp_path, monkeypatch):
    from ltrl_cli.cli import app

    seen = []
    monkeypatch.setattr(L, "subprocess_launch", lambda argv: seen.append(list(argv)) or 3)
    monkeypatch.setattr(L, "visible_gpus", lambda: 0)
    data = tmp_path / "d.jsonl"
    data.write_text(RECORD)
    result = CliRunner().invoke(app, ["grpo", "--data", str(data), "--model", "m", "-o", str(tmp_path / "run"),
                                      "--max-steps", "5", "--set", "top_k=20", "--lora-r", "16"])
    assert result.exit_code == 3, result.output
    assert result.stdout == ""  # nothing but records on stdout, and the parent writes none
    settings = load(tmp_path / "run" / CONFIG_NAME)
    assert (settings.trl["max_steps"], settings.trl["top_k"], settings.lora_r) == (5, 20, 16)
    assert seen and seen[0][4] == "1"


def test_cli_usage_errors_exit_2(tmp_path):
    from ltrl_cli.cli import app

    result = CliRunner().invoke(app, ["grpo", "--model", "m", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "ltrl grpo: missing --data" in result.stderr


def test_dry_run_starts_nothing_and_its_yaml_shows_the_train_scripts_defaults(tmp_path, monkeypatch):
    import yaml

    from ltrl_cli.cli import app

    monkeypatch.setattr(L, "subprocess_launch", lambda argv: pytest.fail("launched on --dry-run"))
    data = tmp_path / "d.jsonl"
    data.write_text(RECORD)
    result = CliRunner().invoke(app, ["grpo", "--data", str(data), "--model", "m", "-o", str(tmp_path / "r"),
                                      "--cpu", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "torch.distributed.run --nproc-per-node 1" in result.stderr
    written = yaml.safe_load((tmp_path / "r" / CONFIG_NAME).read_text())
    assert {key: written[key] for key in TRAIN_SCRIPT} == TRAIN_SCRIPT
    # each is a setting: a flag or --set changes it, and the file says so
    result = CliRunner().invoke(app, ["grpo", "--data", str(data), "--model", "m", "-o", str(tmp_path / "r2"),
                                      "--cpu", "--dry-run", "--no-punish-ill-formed", "--importance-sampling", "none",
                                      "--set", "adam_beta2=0.999", "--max-total-length", "140000"])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((tmp_path / "r2" / CONFIG_NAME).read_text())
    assert (written["punish_ill_formed"], written["importance_sampling"], written["adam_beta2"],
            written["max_total_length"]) == (False, "none", 0.999, 140000)


TRAIN_SCRIPT = {  # scripts/train/train-qwen3-4B-2507.sh, METHOD.md "Trainer"
    "weight_decay": 0.1, "adam_beta1": 0.9, "adam_beta2": 0.98, "punish_ill_formed": True,
    "importance_sampling": "token_mask", "importance_sampling_min": 0.5, "importance_sampling_max": 2.0,
    "max_total_length": 160000, "max_completion_length": 32000,
}


def test_vllm_without_the_extra_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    from ltrl_cli.errors import MissingDependency

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(MissingDependency, match=r"pip install 'ltrl\[vllm\]'"):
        L.prepare(_settings(tmp_path, use_vllm=True), L.Topology(), gpus=1)


def test_bad_data_fails_before_anything_starts(tmp_path, monkeypatch):
    from ltrl_cli.cli import app

    monkeypatch.setattr(L, "subprocess_launch", lambda argv: pytest.fail("launched with bad data"))
    data = tmp_path / "d.jsonl"
    data.write_text(RECORD + '{"input_messages": []}\n')
    result = CliRunner().invoke(app, ["grpo", "--data", str(data), "--model", "m", "-o", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"ltrl grpo: {data}: line 2: missing field 'label'"
    data.write_text("\n")
    result = CliRunner().invoke(app, ["grpo", "--data", str(data), "--model", "m", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "no training records" in result.stderr


def test_vllm_server_mode_needs_a_gpu_for_training(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "require_vllm", lambda: None)
    server = {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": "http://127.0.0.1:1"}
    with pytest.raises(UsageError, match="needs a CUDA GPU"):
        L.prepare(_settings(tmp_path, **server), L.Topology(), gpus=0)
    assert L.prepare(_settings(tmp_path, **server), L.Topology(), gpus=2)[4] == "2"


class _FakeVLLM:
    """/health and /server_info as vLLM's server answers them, over a real socket."""

    def __init__(self, *, unhealthy: int = 0, info_status: int = 200, weight_transfer: dict | None = None):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        fake = self
        self.unhealthy, self.paths = unhealthy, []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.paths.append(self.path)
                if self.path == "/health":
                    status, body = (503, b"") if fake.unhealthy > 0 else (200, b"")
                    fake.unhealthy -= 1
                elif self.path.startswith("/server_info") and info_status == 200:
                    status = 200
                    body = json.dumps({"vllm_config": {"weight_transfer_config": weight_transfer}}).encode()
                else:
                    status, body = info_status, b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_vllm():
    servers = []

    def start(**kwargs):
        servers.append(_FakeVLLM(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_vllm_server_ready_for_weight_updates_passes_after_waiting(fake_vllm):
    server, naps = fake_vllm(unhealthy=2, weight_transfer={"backend": "nccl"}), []
    L.check_vllm_server(server.url, timeout=60, sleep=naps.append)
    assert len(naps) == 2  # still loading twice, then up
    assert server.paths == ["/health"] * 3 + ["/server_info?config_format=json"]


@pytest.mark.parametrize("kwargs, message", [
    ({"info_status": 404}, "does not expose the development endpoints"),
    ({"weight_transfer": None}, "has no weight-transfer engine"),
    ({"info_status": 500}, "/server_info answered 500"),
    ({"unhealthy": 10**6}, r"did not answer within 0 s \(vllm_server_timeout\): /health answered 503"),
])
def test_vllm_server_that_cannot_train_is_one_clear_error(fake_vllm, kwargs, message):
    from ltrl_cli.errors import BackendError

    server = fake_vllm(**kwargs)
    with pytest.raises(BackendError, match=message) as raised:
        L.check_vllm_server(server.url, timeout=0, sleep=lambda s: None)
    assert "\n" not in raised.value.message
    if "unhealthy" not in kwargs and kwargs.get("info_status") != 500:
        assert "VLLM_SERVER_DEV_MODE=1 vllm serve MODEL --weight-transfer-config" in raised.value.message


def test_vllm_server_not_listening_fails_before_anything_starts(tmp_path, monkeypatch):
    import socket

    from ltrl_cli.cli import app

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(L, "require_vllm", lambda: None)
    monkeypatch.setattr(L, "visible_gpus", lambda: 1)
    monkeypatch.setattr(L, "subprocess_launch", lambda argv: pytest.fail("launched without a server"))
    s = _settings(tmp_path)
    result = CliRunner().invoke(app, ["grpo", "--data", s.data, "--model", "m", "-o", s.output_dir, "--vllm",
                                      "--vllm-mode", "server", "--vllm-server-url", f"http://127.0.0.1:{port}",
                                      "--set", "vllm_server_timeout=0"])
    assert result.exit_code == 1
    line, = result.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"ltrl grpo: vLLM server http://127.0.0.1:{port} did not answer within 0 s")


@pytest.mark.parametrize("main, code, stdout, stderr", [
    ("lambda argv: print('a record') or 0", 0, b"a record\n", b""),  # block-buffered stdout still flushed
    ("lambda argv: 1 / 0", 1, b"", b"ZeroDivisionError"),  # the traceback Python would have printed
    (None, 2, b"", b"config /nonexistent: cannot read it"),  # the recipe's own error and exit code
])
def test_recipe_leaves_through_os_exit_with_its_code(main, code, stdout, stderr):
    import subprocess
    import sys

    from tests.conftest import ROOT

    patch = f"R.main = {main}; " if main else ""
    script = f"import ltrl_cli.grpo.recipe as R; {patch}R.run_and_exit(['--config', '/nonexistent'])"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=ROOT, timeout=60)
    assert result.returncode == code, result.stderr.decode()
    assert result.stdout == stdout and stderr in result.stderr


def test_trackers_eval_and_any_trl_field_reach_the_settings(tmp_path, monkeypatch):
    from ltrl_cli.cli import app

    monkeypatch.setattr(L, "subprocess_launch", lambda argv: 0)
    monkeypatch.setattr(L, "visible_gpus", lambda: 0)
    data = tmp_path / "d.jsonl"
    data.write_text(RECORD)
    result = CliRunner().invoke(app, [
        "grpo", "--data", str(data), "--model", "m", "-o", str(tmp_path / "run"), "--report-to", "tensorboard",
        "--report-to", "wandb", "--run-name", "r1", "--logging-dir", str(tmp_path / "logs"),
        "--eval-data", str(data), "--eval-every", "5", "--set", "optim=adamw_torch_fused", "--set", "num_iterations=2"])
    assert result.exit_code == 0, result.output
    s = load(tmp_path / "run" / CONFIG_NAME)
    assert s.trl["report_to"] == ["tensorboard", "wandb"] and s.trl["run_name"] == "r1"
    assert (s.logging_dir, s.eval_data, s.trl["eval_steps"]) == (str(tmp_path / "logs"), str(data), 5)
    assert (s.trl["optim"], s.trl["num_iterations"]) == ("adamw_torch_fused", 2)


@pytest.mark.parametrize("args, message", [
    (["--set", "num_generation=4"], "ltrl grpo: unknown setting 'num_generation': neither an ltrl grpo setting "
                                    "(docs/grpo.md) nor a field of trl.GRPOConfig; did you mean 'num_generations'?"),
    (["--set", "warmup_steps=soon"], "ltrl grpo: setting warmup_steps: invalid float value: 'soon'"),
    (["--eval-data", "missing.jsonl"], "ltrl grpo: --eval-data missing.jsonl: no such file"),
    (["--report-to", "tensorbored"], "ltrl grpo: --report-to 'tensorbored': expected none, all or one of "),
])
def test_cli_bad_trl_settings_are_one_line_exit_2(tmp_path, args, message):
    from ltrl_cli.cli import app

    data = tmp_path / "d.jsonl"
    data.write_text(RECORD)
    result = CliRunner().invoke(app, ["grpo", "--data", str(data), "--model", "m", "-o", str(tmp_path / "run"), *args])
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(message), result.stderr
    assert not (tmp_path / "run").exists()


def test_a_tracker_that_is_not_installed_stops_before_anything_starts(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "trackio" else real(name, *a))
    with pytest.raises(Exception) as info:
        L.prepare(_settings(tmp_path, report_to="trackio"), L.Topology(), gpus=0)
    assert "--report-to trackio needs the Python package 'trackio'" in info.value.message
    assert "pip install 'ltrl[trackio]'" in info.value.message and info.value.exit_code == 1
    assert not (tmp_path / "run" / CONFIG_NAME).exists()


def test_the_launcher_keeps_trackers_notices_off_stdout(tmp_path):
    # W&B prints a notice to stdout as it loads in offline mode; the launcher loads it
    # (TRL's config, transformers' integrations) before starting torchrun, which inherits stdout.
    pytest.importorskip("wandb", reason="the wandb extra")
    from tests.conftest import run_ltrl

    (tmp_path / "d.jsonl").write_text(RECORD)
    (tmp_path / "m").mkdir()
    result = run_ltrl("grpo", "--data", str(tmp_path / "d.jsonl"), "--model", str(tmp_path / "m"),
                      "-o", str(tmp_path / "run"), "--report-to", "wandb", "--dry-run",
                      env={"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout == b""
