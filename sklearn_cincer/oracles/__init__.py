"""Oracles: who answers the cleaner's questions."""

from ._base import Answer, OracleError, Query, check_answer
from ._simulated import SimulatedOracle

__all__ = ["Answer", "OracleError", "Query", "SimulatedOracle", "check_answer"]
