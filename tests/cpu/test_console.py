"""The brief console (verl_dsdr/utils/console.py) on a recorded quickstart's output (no verl run)."""

from __future__ import annotations

import re
from pathlib import Path

from verl_dsdr.utils.console import NOISE, BriefConsole, parse_step_line, strip_ray_prefix

RECORDED = Path(__file__).parent / "fixtures" / "quickstart_console.log"


def _brief(lines: list[str]) -> list[str]:
    console, shown = BriefConsole(clock=lambda: 0.0), []
    for line in lines:
        shown += console.feed(line)
    return shown


def _recorded() -> list[str]:
    return RECORDED.read_bytes().decode().split("\n")


def test_a_quickstart_console_is_the_config_check_milestones_and_one_line_per_step():
    raw = _recorded()
    shown = _brief(raw)
    warnings = [line for line in raw if re.search("warn", line, re.I)]
    assert len(raw) > 100 and len(warnings) > 60  # what a person had to read before
    assert "[validate_config] All configuration checks passed successfully!" in shown
    steps = [line for line in shown if line.startswith("[verl-dsdr] step ")]
    assert steps == [
        "[verl-dsdr] step 1/3: reward 0.719, response length 21.9, 6.7 s",
        "[verl-dsdr] step 2/3: reward 0.594, response length 24.5, 1.4 s",
        "[verl-dsdr] step 3/3: reward 0.594, response length 20.9, 1.3 s",
    ]
    assert "[verl-dsdr] Ray started (0 s)" in shown
    assert any(line.startswith("[verl_dsdr] 2 reward and agent-loop workers ready") for line in shown)
    assert not [line for line in shown if re.search("warn", line, re.I)]
    assert len(shown) <= 15, shown


def test_every_noise_pattern_is_met_in_a_real_run_and_says_why():
    # The quickstart's recording, and a line a saving run printed in the fresh-clone suite (2026-12-03), not every time.
    saving = (RECORDED.parent / "saving_run_console.log").read_bytes().decode().split("\n")
    texts = [strip_ray_prefix(line)[1] for line in _recorded() + saving]
    for pattern, why in NOISE:
        assert why
        if pattern.pattern != r"^\s+(self\.use_critic = )?need_critic\(|^\s+if need_critic\(":
            assert any(pattern.search(text) for text in texts), pattern.pattern


def test_a_warning_nobody_listed_reaches_the_console_and_worker_chatter_does_not():
    shown = _brief(
        [
            "\x1b[36m(WorkerDict pid=7)\x1b[0m Qwen2ForCausalLM contains 143.94K parameters",
            "\x1b[36m(WorkerDict pid=7)\x1b[0m /x/y.py:3: UserWarning: the learning rate is ignored",
            "[2026-12-03 13:45:32][hydra][INFO] - a line of the launching process",
        ]
    )
    assert shown == [
        "\x1b[36m(WorkerDict pid=7)\x1b[0m /x/y.py:3: UserWarning: the learning rate is ignored",
        "[2026-12-03 13:45:32][hydra][INFO] - a line of the launching process",
    ]


def test_after_an_error_everything_is_shown():
    lines = [
        "\x1b[36m(TaskRunner pid=5)\x1b[0m INFO:2026:create worker group dict_keys(['actor_rollout'])",
        "Traceback (most recent call last):",
        '  File "verl/trainer/main_ppo.py", line 3, in run',
        "ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.",
        "\x1b[36m(TaskRunner pid=5)\x1b[0m INFO:2026:chatter that follows",
    ]
    assert _brief(lines) == lines[1:]


def test_step_line_parsing():
    assert parse_step_line("step:2 - critic/score/mean:np.float64(0.5) - note:text - timing_s/step:1.5") == {
        "step": 2.0,
        "critic/score/mean": 0.5,
        "timing_s/step": 1.5,
    }
    assert parse_step_line("Training Progress: step:2") is None
