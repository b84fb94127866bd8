"""Contract Tracker: service contracts, late fees, SLA penalties and reports, inside Excel."""

__version__ = "0.1.0"
