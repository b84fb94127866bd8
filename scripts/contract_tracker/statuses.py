"""Which contracts money is owed on: the one rule the Dashboard and the weekly report share.

Nothing is owed before signing. A contract whose status is ``draft`` or ``sent`` (still
being negotiated) owes nothing: its installments are not outstanding, overdue or late, are
not chased and do not count in any money figure or breach count. Every other status
(``signed``, ``active``, ``expired``, ``terminated``) has been signed, so its installments
are owed. Kept in a module of its own so that both the Dashboard (in every ``refresh``) and
the report can import it for nothing.
"""

from __future__ import annotations

from .records import Contract

__all__ = ["NOT_SIGNED", "is_signed"]

NOT_SIGNED = frozenset({"draft", "sent"})
"""Statuses of contracts not (yet) signed: nothing is owed on them."""


def is_signed(contract: Contract | str) -> bool:
    """Whether money on ``contract`` (a contract or its status) is owed: it has been signed
    (status ``signed``, ``active``, ``expired`` or ``terminated``)."""
    status = contract if isinstance(contract, str) else contract.status
    return status not in NOT_SIGNED
