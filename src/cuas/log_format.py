"""Log records as one JSON object a line (``[service] log_format = "json"``), for log
shippers that index fields rather than parse text."""

from __future__ import annotations

import json
import logging
import time

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(processName)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """``{"t": ISO-8601 UTC, "t_unix", "level", "process", "logger", "message"}`` and
    ``"exception"`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry = {
            "t": f"{when}.{int(record.msecs):03d}Z",
            "t_unix": round(record.created, 3),
            "level": record.levelname.lower(),
            "process": record.processName,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str = "text") -> None:
    """The root logger at ``level``, as text or JSON lines on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
