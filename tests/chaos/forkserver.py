"""A fork server for the chaos tests: imports the bot once, then forks a fresh ``sikesal`` process per request.

Importing the bot takes seconds of CPU (aiogram builds hundreds of pydantic models); tests that kill and
restart the bot a dozen times would spend most of their time importing. This process imports everything once
per test session, then reads requests on stdin, one JSON object a line::

    {"argv": ["run"], "env": {...}, "cwd": "/tmp/...", "output": "/tmp/.../bot.log"}

and forks a child that takes that environment and working directory, appends its stdout and stderr to
``output`` and runs ``bot.cli.main(argv)``, exactly what the ``sikesal`` script runs; when it ends, its exit
status is written to ``output + ".exit"``. The child's pid is written to stdout. An empty line or the end of
stdin (the test session is gone) ends the fork server; running children are left to the tests, which kill
them by pid.

Children are reaped by the kernel (SIGCHLD ignored), so a killed child's pid disappears at once. Nothing runs
between the import and the fork (no event loop, no thread, no database connection), so the child starts as
clean as a new process.

Usage: ``python tests/chaos/forkserver.py`` with the project root on PYTHONPATH.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
from typing import Any


def child(request: dict[str, Any]) -> None:
    output = str(request["output"])
    fd = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    code = 1
    try:
        cli = importlib.import_module("bot.cli")
        argv = [str(a) for a in request["argv"]]
        sys.argv = ["sikesal", *argv]
        code = cli.main(argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        with open(output + ".exit", "w") as status:
            status.write(str(code))
        os._exit(code)


def main() -> None:
    for module in ("bot.app", "bot.cli"):  # the slow part, once
        importlib.import_module(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("warm", flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            child(request)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
