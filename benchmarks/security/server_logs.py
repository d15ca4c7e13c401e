"""Internal errors, read off a server's log: every ERROR record and traceback, by cause.

A request can fail inside a server and still get a polite answer (channels/guard.py
turns an exception into an apology; Rasa's Telegram connector logs and answers
"success"), so the status codes alone hide failures. Each failure leaves an ERROR
line or a traceback in the log; this module finds them in the part of the log
written during a run and names each one's cause: the exception type and the
innermost frame of project code (else the innermost frame), or, for an ERROR line
without a traceback, the logger and its message with numbers and quoted values
blanked out so that one cause is counted once.

Some ERROR lines are not failures of ours: they report a client's mistake that the
server answered with a 4xx. Those are listed in ``NOT_INTERNAL`` with the reason, and
counted apart.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

# A new log record starts with a timestamp: Rasa's "2026-12-07 10:00:00 ERROR ..."
# and Sanic's "[2026-12-07 10:00:00 +0000] [123] [ERROR] ...".
RECORD_START = re.compile(r"^\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")
ERROR_LEVEL = re.compile(r"(?:^|[\s\[])(ERROR|CRITICAL)(?:[\s\]]|$)")
TRACEBACK = "Traceback (most recent call last):"
FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+, in (?P<function>\S+)')
EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Timeout|Warning|error))\b")
# "rasa_sdk.endpoint  - No registered action found for name 'x'." -> logger, message
LOGGER_MESSAGE = re.compile(r"(?:ERROR|CRITICAL)\]?\s+(?P<logger>[\w.]+)?\s*-?\s*(?P<message>.*)$")

# ERROR lines that report a client's mistake, answered with a 4xx: not internal errors.
NOT_INTERNAL = {
    r"rasa_sdk\.endpoint.*No registered action found for name":
        "rasa_sdk logs an unknown action name at ERROR and answers 404",
    # Rasa's ErrorResponse logs its message at ERROR whatever the status; its 500s all
    # say "An unexpected error occurred" (rasa/server.py), the 4xx never do.
    r"rasa\.server\s+- (?!An unexpected error occurred)":
        "Rasa's HTTP API logs each 4xx it answers at ERROR",
    r"models_custom\.generative_policy\s+- Profile left out of the prompt":
        "the generative policy's own isolation check: profile slots naming another "
        "conversation (set through the HTTP API) are left out of the prompt, the reply goes on",
    r"\[ERROR\] <Request: \w+ [^>]*> body not consumed":
        "Sanic logs a request body its route never read (a GET or OPTIONS sent with one) at ERROR; the answer is unaffected",
}


@dataclass
class LogFindings:
    """What a stretch of log says went wrong inside the server."""

    causes: Counter = field(default_factory=Counter)  # cause -> internal errors
    not_internal: Counter = field(default_factory=Counter)  # reason -> ERROR lines that are not failures
    examples: Dict[str, str] = field(default_factory=dict)  # cause -> one full record, to debug it

    @property
    def internal_errors(self) -> int:
        return sum(self.causes.values())

    def merge(self, other: "LogFindings") -> None:
        self.causes.update(other.causes)
        self.not_internal.update(other.not_internal)
        for cause, record in other.examples.items():
            self.examples.setdefault(cause, record)


class LogCursor:
    """Remembers where a log file ended, to read what the server wrote after that."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def new_text(self) -> str:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            return log.read().decode("utf-8", errors="replace")


def findings(log_text: str, project_root: Path) -> LogFindings:
    """The internal errors in ``log_text``, by cause (see the module docstring)."""
    found = LogFindings()
    for record in _error_records(log_text):
        reason = _not_internal_reason(record)
        if reason is not None:
            found.not_internal[reason] += 1
            continue
        cause = cause_of(record, project_root)
        found.causes[cause] += 1
        found.examples.setdefault(cause, record[-3000:])
    return found


def _error_records(log_text: str) -> List[str]:
    """Log records at ERROR or CRITICAL, and tracebacks logged without a level."""
    records: List[List[str]] = []
    current: Optional[List[str]] = None
    for line in log_text.splitlines():
        if RECORD_START.match(line):
            current = [line] if ERROR_LEVEL.search(line.split(" - ")[0]) else None
            if current is not None:
                records.append(current)
        elif line.startswith(TRACEBACK) and current is None:
            current = [line]  # printed straight to stderr (a thread or a task's exception)
            records.append(current)
        elif current is not None:
            current.append(line)
    return ["\n".join(record) for record in records]


def _not_internal_reason(record: str) -> Optional[str]:
    for pattern, reason in NOT_INTERNAL.items():
        if re.search(pattern, record.splitlines()[0]):
            return reason
    return None


def cause_of(record: str, project_root: Path) -> str:
    """``ExceptionType at path:function (message)`` for a traceback, else ``logger: message``.

    Of chained tracebacks ("The above exception was the direct cause of..."), the
    first is the root cause: the later ones are the wrappers around it.
    """
    lines = _root_traceback(record.splitlines())
    frames = [m for m in map(FRAME.match, lines) if m]
    if frames:
        exception = _exception_type(lines)
        ours = [f for f in frames if _is_project_file(f["path"], project_root)]
        frame = (ours or frames)[-1]
        where = f"{_short_path(frame['path'], project_root)}:{frame['function']}"
        return f"{exception} at {where} ({_blank_details(_exception_message(lines))[:90]})"
    match = LOGGER_MESSAGE.search(lines[0])
    logger = (match["logger"] or "") if match else ""
    message = match["message"] if match else lines[0]
    return f"{logger}: {_blank_details(message)}"[:160]


CHAINED = ("The above exception was the direct cause", "During handling of the above exception")


def _root_traceback(lines: List[str]) -> List[str]:
    """The record up to the end of its first traceback, if that one has frames."""
    for index, line in enumerate(lines):
        if line.startswith(CHAINED) and any(FRAME.match(earlier) for earlier in lines[:index]):
            return lines[:index]
    return lines


def _exception_type(lines: List[str]) -> str:
    # The innermost exception is the last "Type: message" line of the record.
    for line in reversed(lines):
        match = EXCEPTION_LINE.match(line.strip())
        if match:
            return match["type"]
    return "unknown exception"


def _exception_message(lines: List[str]) -> str:
    for line in reversed(lines):
        if EXCEPTION_LINE.match(line.strip()):
            return line.strip().partition(":")[2].strip()
    return ""


def _is_project_file(path: str, project_root: Path) -> bool:
    return path.startswith(str(project_root)) and "/.venv/" not in path


def _short_path(path: str, project_root: Path) -> str:
    if path.startswith(str(project_root) + "/") and "/.venv/" not in path:
        return path[len(str(project_root)) + 1:]
    return path.split("site-packages/")[-1]


def _blank_details(message: str) -> str:
    """The message with ids, numbers and quoted values blanked, so one cause counts once."""
    message = re.sub(r"(?<![A-Za-z])'[^']*'|\"[^\"]*\"", "'…'", message)
    return re.sub(r"\d+", "N", message).strip()
