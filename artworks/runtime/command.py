"""The one wrapper every command runs under (``python -m artworks.X`` and the ``artworks-X`` scripts).

It owns what is the same for all of them: the resolvers are registered once; a foreseeable failure
(:func:`artworks.errors.user_message`) becomes one paragraph on stderr and exit status 2, including errors
Hydra raises before the task runs (an output folder that cannot be made); a multirun with failed jobs exits
with 1; anything else is a bug and keeps its traceback. Full tracebacks for user errors too: the
environment variable ``HYDRA_FULL_ERROR=1`` (only the value 1, as Hydra itself reads it) or, for the Hydra
commands, ``traceback=true`` on the command line.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from artworks.config import register_resolvers
from artworks.errors import user_message

EXIT_SWEEP_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # the shell's status for Ctrl-C (128 + SIGINT)


def tracebacks_requested(argv: Sequence[str]) -> bool:
    """True when the user asked for Python tracebacks instead of the one-paragraph message."""
    return os.environ.get("HYDRA_FULL_ERROR") == "1" or any(a.lower() == "traceback=true" for a in argv)


@contextmanager
def hydra_raises() -> Iterator[None]:
    """Make Hydra re-raise a job's error instead of printing its own short trace and exiting with 1.

    Hydra decides this from ``HYDRA_FULL_ERROR=1``; the variable is put back as it was afterwards, because
    commands also run in-process (tests, notebooks).
    """
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous


def _failed_sweeps() -> int:
    """Sweeps of this process with failed jobs so far (``artworks.runtime.sweep_failures`` records them).

    Read without importing that module: only commands that run sweeps load it (it pulls in Lightning).
    """
    module = sys.modules.get("artworks.runtime.sweep_failures")
    return len(module.failed_sweeps) if module is not None else 0


class _CarriedError(BaseException):
    """A single run's exception, carried past Hydra's job runner to :func:`run_command`.

    Hydra writes "Error executing job with overrides: [...]" to stderr before it re-raises a job's error;
    for a single run that line only repeats what the user typed, ahead of the paragraph that explains. A
    BaseException passes Hydra's ``except Exception``; :func:`run_command` unwraps it.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def hydra_task(task: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Decorator for a ``@hydra.main`` task: in a single run its error reaches :func:`run_command` as it
    was, without Hydra's line first. In a multirun Hydra handles it (the line names the failed job)."""

    @functools.wraps(task)
    def wrapper(cfg: Any) -> Any:
        try:
            return task(cfg)
        except Exception as err:
            if _single_run():
                raise _CarriedError(err) from None
            raise

    return wrapper


def _single_run() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.RUN


def _exit_for(err: Exception, show_traceback: bool) -> None:
    """One paragraph and exit 2 for a user error; anything else (or a traceback asked for) re-raised."""
    message = None if show_traceback else user_message(err)
    if message is None:
        raise err
    print(f"\nartworks: {message}\n", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def run_command(entry: Callable[[], Any], argv: Sequence[str] | None = None) -> None:
    """Run ``entry`` (a ``@hydra.main`` function or a command's body) with the shared error handling.

    Exits with 2 and one paragraph for a user error, 1 when a sweep run by ``entry`` had failed jobs,
    130 on Ctrl-C; returns normally on success.
    """
    argv = sys.argv[1:] if argv is None else argv
    show_traceback = tracebacks_requested(argv)
    register_resolvers()
    failed_before = _failed_sweeps()
    carried: Exception | None = None
    try:
        with hydra_raises():
            entry()
    except _CarriedError as job:
        carried = job.error  # handled below, outside this handler: its traceback stays its own
    except KeyboardInterrupt:
        print("\nartworks: interrupted.", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:
        _exit_for(err, show_traceback)
    if carried is not None:
        _exit_for(carried, show_traceback)
    if _failed_sweeps() > failed_before:
        sys.exit(EXIT_SWEEP_FAILED)


def command(main: Callable[..., Any]) -> Callable[..., None]:
    """Decorator for an argparse command ``main(argv=None)``: run it under :func:`run_command`."""

    @functools.wraps(main)
    def wrapper(argv: Sequence[str] | None = None) -> None:
        run_command(lambda: main(argv), sys.argv[1:] if argv is None else argv)

    return wrapper
