"""Lightning's rank watcher under artworks.runtime.ddp: a dead rank ends its job, not the sweep's process."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from artworks.runtime import ddp


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


@pytest.mark.parametrize("job_ended", [True, False])
def test_a_dead_rank_kills_the_other_ranks_and_the_main_process_only_if_its_job_is_stuck(
    monkeypatch, job_ended
):
    watch_class = ddp._rank_watch_class()
    if watch_class is None:
        pytest.skip("this Lightning has no rank watcher")
    ddp._sweep_safe_rank_watch()
    monkeypatch.setattr(ddp, "MAIN_GRACE_S", 0.5)
    main, rank = _sleeper(), _sleeper()  # stand-ins for the sweep's process and a surviving rank
    try:
        watch = watch_class(main_pid=main.pid, child_processes=[rank])
        setattr(watch, ddp._JOB_ENDED, job_ended)
        watch._terminate_all()
        assert rank.wait(timeout=10) == -signal.SIGKILL  # the other ranks: at once, as Lightning does
        if job_ended:  # the job ended on its own (its failure recorded): the sweep goes on
            assert main.poll() is None
        else:  # stuck past the grace period: Lightning's way, so nothing hangs
            assert main.wait(timeout=10) == -signal.SIGKILL
    finally:
        for proc in (main, rank):
            proc.kill()
            proc.wait()
