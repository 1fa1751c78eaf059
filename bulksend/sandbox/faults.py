"""Deciding, request by request, which fault (if any) the sandbox plays.

One seeded draw per request splits [0, 1) into drop | error | slow | none by the configured
shares, so each share is exact in the long run and a seed replays the same sequence of decisions
(in the order requests reach the lock). Not thread-safe by itself: called under the sandbox lock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from bulksend.sandbox.config import Faults


class FaultAction(StrEnum):
    NONE = "none"
    DROP = "drop"  # close the connection without an answer; the request is not processed
    ERROR = "error"  # answer a 5xx; the request is not processed
    SLOW = "slow"  # process and record it, answer only after a long delay


@dataclass(frozen=True)
class FaultPlan:
    action: FaultAction = FaultAction.NONE
    latency_s: float = 0.0
    error_status: int | None = None
    delay_s: float = 0.0


class FaultPicker:
    def __init__(self, faults: Faults, *, seed: int) -> None:
        self._faults = faults
        self._rng = random.Random(seed)
        self._fired = 0

    @property
    def faults(self) -> Faults:
        return self._faults

    def replace(self, faults: Faults) -> None:
        """Switch to new faults; ``max_faults`` counts afresh from here."""
        self._faults = faults
        self._fired = 0

    def plan(self) -> FaultPlan:
        faults = self._faults
        low, high = faults.latency_s
        latency_s = low if high == low else self._rng.uniform(low, high)
        draw = self._rng.random()
        action = self._action(draw)
        if action is not FaultAction.NONE:
            if faults.max_faults is not None and self._fired >= faults.max_faults:
                action = FaultAction.NONE
            else:
                self._fired += 1
        return FaultPlan(
            action=action,
            latency_s=latency_s,
            error_status=self._rng.choice(faults.error_statuses)
            if action is FaultAction.ERROR
            else None,
            delay_s=faults.slow_answer_delay_s if action is FaultAction.SLOW else 0.0,
        )

    def _action(self, draw: float) -> FaultAction:
        faults = self._faults
        edge = faults.drop_share
        if draw < edge:
            return FaultAction.DROP
        edge += faults.error_share
        if draw < edge:
            return FaultAction.ERROR
        edge += faults.slow_answer_share
        if draw < edge:
            return FaultAction.SLOW
        return FaultAction.NONE
