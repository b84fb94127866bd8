"""The engine: late fees (clause 7.2) and SLA penalties (clause 1.2) as of any date.

Pure functions over the records of ``contract_tracker.records``: no file, workbook or
network access, nothing kept between calls. ``compute_penalties`` is the entry point;
``penalties_json``, ``penalties_table`` and ``workings_rows`` present its result.
"""

from __future__ import annotations

from .availability import MonthAvailability, availability_months
from .calendar import CalendarYearError, is_workday, next_workday, nth_workday_after
from .latefees import (
    DueDate,
    InstallmentFee,
    InstallmentFees,
    LateFees,
    Position,
    RiskFlag,
    Segment,
    effective_due_date,
    installment_positions,
    late_fees,
)
from .penalties import (
    WORKINGS_COLUMNS,
    PenaltyResult,
    SlaMonth,
    Totals,
    compute_penalties,
    penalties_json,
    penalties_table,
    workings_rows,
)
from .sla import (
    Clock,
    IncidentSla,
    IncidentSlas,
    SlaRun,
    incident_slas,
    judge,
    monthly_fee,
    term_months,
)

__all__ = [
    "WORKINGS_COLUMNS",
    "CalendarYearError",
    "Clock",
    "DueDate",
    "IncidentSla",
    "IncidentSlas",
    "InstallmentFee",
    "InstallmentFees",
    "LateFees",
    "MonthAvailability",
    "PenaltyResult",
    "Position",
    "RiskFlag",
    "Segment",
    "SlaMonth",
    "SlaRun",
    "Totals",
    "availability_months",
    "compute_penalties",
    "effective_due_date",
    "incident_slas",
    "installment_positions",
    "is_workday",
    "judge",
    "late_fees",
    "monthly_fee",
    "next_workday",
    "nth_workday_after",
    "penalties_json",
    "penalties_table",
    "term_months",
    "workings_rows",
]
