"""What a scheduler asks of the controller beyond a per-result decision (plain data).

A scheduler queues actions as it decides and the controller drains them with
:meth:`~caliper.schedulers.trial_scheduler.TrialScheduler.take_actions` after each batch of
results and each ended run, then carries them out. Schedulers never call into the controller.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exploit:
    """Restart trial ``trial_id`` from the latest checkpoint of trial ``source_id`` with
    ``config`` (PBT's exploit and explore). ``source_id == trial_id`` keeps the trial's own
    checkpoint and only changes its config (a replayed schedule). The trial has been paused (its
    result was answered with PAUSE) or is waiting; the controller applies the action when its
    run has ended.

    Args:
        trial_id: the trial that changes.
        source_id: the trial whose checkpoint it continues from.
        config: its new config.
        tag_suffix: appended to the trial's experiment tag (``@perturbed[...]``), or ``""``.
        policy: the record logged to ``pbt_global.txt`` and ``pbt_policy_<trial_id>.txt``
            (``None``: no log).
    """

    trial_id: str
    source_id: str
    config: dict
    tag_suffix: str = ""
    policy: list | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StopTrial:
    """End trial ``trial_id``, which is waiting (PAUSED or PENDING), as TERMINATED."""

    trial_id: str


Action = Exploit | StopTrial
