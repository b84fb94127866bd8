"""A contract's effective terms: its own overrides, else the Settings defaults.

Every rule the engine applies is looked up here, so "per-contract setting with a
workbook-wide default" is implemented once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .records import Contract, CreditTier, Settings, SlaPenaltyRule


@dataclass(frozen=True, slots=True)
class Terms:
    late_fee_rate: Decimal
    grace_days: int
    late_fee_cap_pct: Decimal | None
    late_fee_exempt: bool
    move_due_off_rest_days: bool
    sla_response_hours: Decimal
    sla_solution_hours: Decimal
    sla_major_hours: Decimal
    availability_target: Decimal
    sla_clock: str
    work_day_start: int
    work_day_end: int
    sla_schedule: str
    sla_monthly_cap_pct: Decimal
    sla_penalties: tuple[SlaPenaltyRule, ...]
    credit_tiers: tuple[CreditTier, ...]

    @property
    def charged_rate(self) -> Decimal:
        """The daily late-fee rate charged: 0 when the contract is exempt."""
        return Decimal(0) if self.late_fee_exempt else self.late_fee_rate


def _pick(own: object, default: object) -> object:
    return default if own is None else own


def effective_terms(contract: Contract, settings: Settings) -> Terms:
    schedule = contract.sla_schedule or settings.sla_schedule
    return Terms(
        late_fee_rate=_pick(contract.late_fee_rate, settings.late_fee_rate),  # type: ignore[arg-type]
        grace_days=_pick(contract.grace_days, settings.grace_days),  # type: ignore[arg-type]
        late_fee_cap_pct=_pick(contract.late_fee_cap_pct, settings.late_fee_cap_pct),  # type: ignore[arg-type]
        late_fee_exempt=bool(contract.late_fee_exempt),
        move_due_off_rest_days=_pick(  # type: ignore[arg-type]
            contract.move_due_off_rest_days, settings.move_due_off_rest_days
        ),
        sla_response_hours=_pick(contract.sla_response_hours, settings.sla_response_hours),  # type: ignore[arg-type]
        sla_solution_hours=_pick(contract.sla_solution_hours, settings.sla_solution_hours),  # type: ignore[arg-type]
        sla_major_hours=_pick(contract.sla_major_hours, settings.sla_major_hours),  # type: ignore[arg-type]
        availability_target=_pick(contract.availability_target, settings.availability_target),  # type: ignore[arg-type]
        sla_clock=contract.sla_clock or settings.sla_clock,
        work_day_start=_pick(contract.work_day_start, settings.work_day_start),  # type: ignore[arg-type]
        work_day_end=_pick(contract.work_day_end, settings.work_day_end),  # type: ignore[arg-type]
        sla_schedule=schedule,
        sla_monthly_cap_pct=_pick(  # type: ignore[arg-type]
            contract.sla_monthly_cap_pct, settings.sla_monthly_cap_pct),
        sla_penalties=tuple(r for r in settings.sla_penalties if r.schedule == schedule),
        credit_tiers=tuple(t for t in settings.credit_tiers if t.schedule == schedule),
    )
