"""What a person reads of a run's output on the console; ``train.log`` keeps every line.

A CPU run prints ~160 lines to the console, most of them from Ray's workers: start-up chatter,
progress bars, and warnings nobody can act on (verl's optional engines that are not installed,
Ray's note on a blocking ``ray.get`` in verl's async actors, torch internals). :class:`BriefConsole`
turns that stream into:

- the project's own lines (``[verl-dsdr]``, ``[verl_dsdr]``) and verl's config check;
- one short line per start-up milestone (:data:`STARTUP_MILESTONES`, also read by
  ``scripts/bench_startup.py``) and one per training step (reward, response length, step time);
- every other warning, unless it is in :data:`NOISE` (each entry says why nobody can act on it);
- every line of the launching process (config errors, Hydra's messages) except known noise;
- after the first error or traceback, everything, unfiltered: a failing run shows all it said.

``python -m verl_dsdr.launch --console full`` (or ``VERL_DSDR_CONSOLE=full``) prints every line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

__all__ = ["NOISE", "STARTUP_MILESTONES", "BriefConsole", "Timeline", "parse_step_line", "strip_ray_prefix"]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RAY_PREFIX = re.compile(r"^\((?P<who>[^()]*?pid=\d+[^()]*)\)\s?")

# (pattern, why nobody can act on it). Matched against the line without Ray's "(Actor pid=N)" prefix.
NOISE: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(pattern), why)
    for pattern, why in (
        (
            r"engine is not available",
            "verl lists optional training engines (torchtitan, megatron, ...) it cannot import",
        ),
        (r"^\s+warnings\.warn\(f\"\w+ engine is not available", "the source line of that warning"),
        (r"blocking ray\.get inside async actor", "Ray's advice to verl's own async actors"),
        (r"target_num_threads \d+ should not exceed", "TransferQueue's thread count (set from the run's cores)"),
        (r"Disabled critic as algorithm\.adv_estimator != gae", "GRPO-style estimators never use a critic"),
        (r"^\s+(self\.use_critic = )?need_critic\(|^\s+if need_critic\(", "the source line of that warning"),
        (r"validate_config\(config=config, use_reference_policy", "the source line of that warning"),
        (r"'set_vital' is deprecated|torch\.set_vital\(", "torchdata calls a deprecated torch function"),
        (r"Failed to set NUMA affinity", "no libnuma on a CPU machine; nothing to pin"),
        (r"is_fx_tracing will return true", "a torch-internal deprecation"),
        (r"^ray init kwargs: ", "verl prints Ray's start-up arguments"),
        (r"Platform override from VERL_PLATFORM", "the CPU preset's own setting, in every process"),
        (
            r"`torch_dtype` is deprecated! Use `dtype` instead!",
            "verl 0.9.1's FSDP engine loads the model with transformers' old keyword (fsdp/transformer_impl.py:278)",
        ),
    )
)

# (label, pattern) in the order a run reaches them; the first line matching each is a milestone.
STARTUP_MILESTONES: tuple[tuple[str, re.Pattern], ...] = tuple(
    (label, re.compile(pattern))
    for label, pattern in (
        ("Ray started", r"Started a local Ray instance|Connected to Ray cluster"),
        ("TaskRunner up", r"^\(TaskRunner pid=\d+\)"),
        ("train/val dataloaders built", r"train and validate dataloader initialized"),
        ("actor worker group created", r"create worker group"),
        ("actor engine initialized", r"actor and ref model engine initialized"),
        ("reward loop manager initialized", r"reward loop manager initialized"),
        ("checkpoint engine manager initialized", r"checkpoint engine manager initialized"),
        ("training loop set up", r"Training Progress:\s+0%"),
        ("agent-loop and reward workers ready", r"reward and agent-loop workers ready"),
        ("step 1 begins", r"Creating file logger at"),  # verl's last line before the first step (trainer.logger: file)
    )
)
# Shown on the brief console (the others are for the start-up benchmark's table).
CONSOLE_MILESTONES = {"Ray started", "actor engine initialized", "reward loop manager initialized"}

ERROR = re.compile(
    r"Traceback \(most recent call last\)|\b[A-Z]\w*(Error|Exception)\b|\bERROR\b|\bFATAL\b|^error:|Error executing job"
)
WARNING = re.compile(r"\bWarning\b|\bWARNING\b|\bWARN\b|^[A-Z]\w*Warning: |: [A-Z]\w*Warning: ")
PROJECT = re.compile(r"^\[(verl-dsdr|verl_dsdr|validate_config|toy|pipeline)\]")
STEP = re.compile(r"^step:(\d+) - ")
TOTAL_STEPS = re.compile(r"Total training steps: (\d+)")
STEP_FIELDS = (("critic/score/mean", "reward", "{:.3f}"), ("response_length/mean", "response length", "{:.1f}"))


def strip_ray_prefix(line: str) -> tuple[str, str]:
    """``"(TaskRunner pid=5) text"`` -> ``("TaskRunner pid=5", "text")``; no colours; ``("", line)`` otherwise."""
    plain = ANSI.sub("", line).rstrip("\r\n")
    match = RAY_PREFIX.match(plain)
    return (match.group("who"), plain[match.end() :]) if match else ("", plain)


def parse_step_line(text: str) -> dict[str, float] | None:
    """verl's console logger line ``step:3 - key:value - ...`` as numbers; ``None`` for any other line."""
    match = STEP.match(text)
    if not match:
        return None
    values: dict[str, float] = {"step": float(match.group(1))}
    for field in text.split(" - ")[1:]:
        key, _, value = field.rpartition(":")
        try:
            values[key.strip()] = float(value.strip().removeprefix("np.float64(").rstrip(")"))
        except ValueError:
            continue
    return values


class BriefConsole:
    """Feed it the run's output line by line; it returns the lines to print (often none)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock, self.start = clock, clock()
        self.total_steps: int | None = None
        self.failing = False
        self.reached: set[str] = set()

    def feed(self, line: str) -> list[str]:
        if self.failing:
            return [line.rstrip("\n")]
        who, text = strip_ray_prefix(line)
        if not text.strip() or any(pattern.search(text) for pattern, _ in NOISE):
            return []
        total = TOTAL_STEPS.search(text)
        if total:
            self.total_steps = int(total.group(1))
        shown = self._milestone(line)
        step = parse_step_line(text)
        if step is not None:
            return [*shown, self._step_line(step)]
        if PROJECT.match(text):
            return [*shown, text]
        if ERROR.search(text):
            self.failing = True
            return [*shown, line.rstrip("\n")]
        if WARNING.search(text) or not (who or shown):  # a warning, or the launching process's own line
            return [*shown, line.rstrip("\n")]
        return shown

    def _milestone(self, line: str) -> list[str]:
        plain = ANSI.sub("", line)
        for label, pattern in STARTUP_MILESTONES:
            if label not in self.reached and pattern.search(plain):
                self.reached.add(label)
                if label in CONSOLE_MILESTONES:
                    return [f"[verl-dsdr] {label} ({self.clock() - self.start:.0f} s)"]
        return []

    def _step_line(self, step: dict[str, float]) -> str:
        number = int(step["step"])
        head = f"[verl-dsdr] step {number}/{self.total_steps}" if self.total_steps else f"[verl-dsdr] step {number}"
        parts = [f"{name} {fmt.format(step[key])}" for key, name, fmt in STEP_FIELDS if key in step]
        if "timing_s/step" in step:
            parts.append(f"{step['timing_s/step']:.1f} s")
        return f"{head}: {', '.join(parts)}"


class Timeline:
    """When a run reached each start-up milestone and each training step, in seconds since its launch.

    Fed every line as the launcher receives it (Ray forwards a worker's lines within about a
    second); written as ``timeline.json`` beside ``train.log`` and read by ``scripts/bench_startup.py``.
    """

    def __init__(self) -> None:
        self.milestones: dict[str, float] = {}
        self.steps: dict[int, float] = {}
        self.events: dict[str, float] = {}

    def feed(self, line: str, seconds: float) -> None:
        plain = ANSI.sub("", line)
        for label, pattern in STARTUP_MILESTONES:
            if label not in self.milestones and pattern.search(plain):
                self.milestones[label] = seconds
        step = parse_step_line(strip_ray_prefix(line)[1])
        if step is not None:
            self.steps.setdefault(int(step["step"]), seconds)

    def mark(self, event: str, seconds: float) -> None:
        """An event the launcher sees itself: ``trainer exited``, ``processes stopped``."""
        self.events[event] = seconds

    def as_json(self) -> dict:
        return {
            "milestones": [
                [label, round(self.milestones[label], 3)] for label, _ in STARTUP_MILESTONES if label in self.milestones
            ],
            "steps": [[step, round(t, 3)] for step, t in sorted(self.steps.items())],
            "events": {event: round(t, 3) for event, t in self.events.items()},
            "method": "seconds since the launcher started the run, when each line reached the launcher",
        }
