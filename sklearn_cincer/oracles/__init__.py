"""Oracles: who answers the cleaner's questions.

- :class:`SimulatedOracle` answers from known true labels (experiments).
- :class:`BrowserOracle` asks a person on a local web page (or in a Jupyter
  output cell); :class:`TerminalOracle` asks at a prompt.
- :class:`AnnotationSession` wraps any oracle to write every question and
  answer to an :class:`AnnotationStore` (SQLite) as it happens, and to replay
  recorded answers when a session is run again, so a session resumes after a
  crash.
- :class:`LabelStudioOracle` sends each question to a team as a task of a
  Label Studio project and answers with their majority.
- :func:`export_questions` writes the questions of a run to a CSV or JSON file
  for a team to answer offline; :class:`OfflineAnswers` answers a new run from
  the filled-in files (:func:`read_answers` reads them).
"""

from ._base import (
    AnnotationStopped,
    Answer,
    CounterExample,
    OracleError,
    Query,
    check_answer,
)
from ._browser import BrowserOracle
from ._labelstudio import LabelStudioOracle
from ._offline import OfflineAnswers, export_questions, read_answers
from ._session import AnnotationSession
from ._simulated import SimulatedOracle
from ._store import AnnotationStore
from ._terminal import TerminalOracle

__all__ = [
    "AnnotationSession",
    "AnnotationStopped",
    "AnnotationStore",
    "Answer",
    "BrowserOracle",
    "CounterExample",
    "LabelStudioOracle",
    "OfflineAnswers",
    "OracleError",
    "Query",
    "SimulatedOracle",
    "TerminalOracle",
    "check_answer",
    "export_questions",
    "read_answers",
]
