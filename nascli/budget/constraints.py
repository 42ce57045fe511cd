"""Hard limits on a child's cost, and the cost they are checked against.

An architecture over any limit is never trained (docs/budgets.md): random and
evolution draw or mutate again, reinforce gives it `refused_reward`, ENAS
samples again. `over` is the one check every strategy calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .units import format_count, format_margin, format_ms


@dataclass(frozen=True)
class Cost:
    """What a child costs before it trains: parameters, MACs per example, latency (ms at the stated batch)."""

    params: int | None
    macs: int | None
    latency_ms: float | None = None

    def describe(self) -> str:
        parts = [f"{format_count(self.params)} params", f"{format_count(self.macs)} MACs"]
        if self.latency_ms is not None:
            parts.append(format_ms(self.latency_ms))
        return ", ".join(parts)


def auto_latency_model(strategy: str) -> str:
    """What --latency-model auto chooses: the table under ENAS (a timing per shared step would cost more than
    the step), each child timed whole otherwise."""
    return "table" if strategy == "enas" else "measured"


class Constraints(BaseModel):
    """The limits a search was started with; part of its config, so a resume keeps them."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_params: int | None = Field(None, ge=1)
    max_macs: int | None = Field(None, ge=1)
    max_latency_ms: float | None = Field(None, gt=0)
    latency_batch: int = Field(1, ge=1)  # examples per timed forward pass
    # measured: each child timed whole; table: predicted from the run's latency table (latency_table.py)
    latency_model: Literal["measured", "table"] = "measured"
    # a child is accepted only at or below max_latency_ms x (1 - margin): a latency measured again later, under
    # another load, is not the one the search measured (docs/budgets.md: the margin against re-measurement).
    # 0 for runs started before --latency-margin existed, so that their resume refuses what they refused.
    latency_margin: float = Field(0.0, ge=0, lt=1)
    retries: int = Field(100, ge=1)  # draws per child before the space is judged (almost) empty under the limits
    refused_reward: float = 0.0  # reinforce: the reward of a refused sample, so the controller learns the boundary
    # --objective (MnasNet): a trained child's reward times (cost / target)^w, w = objective_w at or below the
    # target and objective_w_over above it (w = 0 / -1: a hard-ish limit; -0.07 / -0.07: MnasNet's soft one)
    objective_cost: Literal["params", "macs", "latency_ms"] | None = None
    objective_target: float | None = Field(None, gt=0)
    objective_w: float = -0.07
    objective_w_over: float = -0.07

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.max_params, self.max_macs, self.max_latency_ms, self.objective_cost))

    @property
    def needs_latency(self) -> bool:
        return self.max_latency_ms is not None or self.objective_cost == "latency_ms"

    @property
    def latency_limit_ms(self) -> float | None:
        """The latency a child may have: --max-latency less its margin."""
        return None if self.max_latency_ms is None else self.max_latency_ms * (1 - self.latency_margin)

    def objective_factor(self, cost: Cost) -> float:
        """MnasNet's (cost / target)^w for `cost` (1 without --objective, or when the cost is unknown)."""
        value = getattr(cost, self.objective_cost) if self.objective_cost else None
        if value is None or self.objective_target is None:
            return 1.0
        ratio = value / self.objective_target
        return ratio ** (self.objective_w if ratio <= 1 else self.objective_w_over)

    def over(self, cost: Cost) -> str | None:
        """Why `cost` breaks a limit ('3.2M params > --max-params 1.5M'), or None when it fits."""
        checks = (("params", cost.params, self.max_params, "--max-params", format_count),
                  ("MACs", cost.macs, self.max_macs, "--max-macs", format_count),
                  ("", cost.latency_ms, self.latency_limit_ms, "--max-latency", format_ms))
        for what, value, limit, flag, fmt in checks:
            if limit is not None and value is not None and value > limit:
                return f"{fmt(value)}{' ' + what if what else ''} > {flag} {self._stated(flag, fmt(limit))}"
        return None

    def _stated(self, flag: str, limit: str) -> str:
        """The limit as the user gave it, and the margin's figure when it has one: '5ms less 10% (4.5ms)'."""
        if flag != "--max-latency" or not self.latency_margin:
            return limit
        return f"{format_ms(self.max_latency_ms)} less {format_margin(self.latency_margin)} ({limit})"

    def describe(self) -> str:
        latency = ""
        if self.max_latency_ms:
            accepted = (f", accepted at most {format_ms(self.latency_limit_ms)}: a {format_margin(self.latency_margin)}"
                        " margin" if self.latency_margin else "")
            latency = f"--max-latency {format_ms(self.max_latency_ms)} (batch {self.latency_batch}{accepted})"
        limits = [f"--max-params {format_count(self.max_params)}" if self.max_params else "",
                  f"--max-macs {format_count(self.max_macs)}" if self.max_macs else "", latency]
        return ", ".join(x for x in limits if x)
