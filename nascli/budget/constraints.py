"""Hard limits on a child's cost, and the cost they are checked against.

An architecture over any limit is never trained (docs/budgets.md): random and
evolution draw or mutate again, reinforce gives it `refused_reward`, ENAS
samples again. `over` is the one check every strategy calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from .units import format_count, format_ms


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


class Constraints(BaseModel):
    """The limits a search was started with; part of its config, so a resume keeps them."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_params: int | None = Field(None, ge=1)
    max_macs: int | None = Field(None, ge=1)
    max_latency_ms: float | None = Field(None, gt=0)
    latency_batch: int = Field(1, ge=1)  # examples per timed forward pass
    retries: int = Field(100, ge=1)  # draws per child before the space is judged (almost) empty under the limits
    refused_reward: float = 0.0  # reinforce: the reward of a refused sample, so the controller learns the boundary

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.max_params, self.max_macs, self.max_latency_ms))

    @property
    def needs_latency(self) -> bool:
        return self.max_latency_ms is not None

    def over(self, cost: Cost) -> str | None:
        """Why `cost` breaks a limit ('3.2M params > --max-params 1.5M'), or None when it fits."""
        checks = (("params", cost.params, self.max_params, "--max-params", format_count),
                  ("MACs", cost.macs, self.max_macs, "--max-macs", format_count),
                  ("", cost.latency_ms, self.max_latency_ms, "--max-latency", format_ms))
        for what, value, limit, flag, fmt in checks:
            if limit is not None and value is not None and value > limit:
                return f"{fmt(value)}{' ' + what if what else ''} > {flag} {fmt(limit)}"
        return None

    def describe(self) -> str:
        limits = [f"--max-params {format_count(self.max_params)}" if self.max_params else "",
                  f"--max-macs {format_count(self.max_macs)}" if self.max_macs else "",
                  f"--max-latency {format_ms(self.max_latency_ms)} (batch {self.latency_batch})"
                  if self.max_latency_ms else ""]
        return ", ".join(x for x in limits if x)
