"""The storage helper: durable atomic writes, named crash points, orphan cleanup, locks that name holders."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import socket
import subprocess
import sys

import pytest

import artworks.storage.atomic as atomic
from artworks.errors import ArtworksError, user_message
from artworks.storage import (
    CRASH_ENV,
    atomic_open,
    atomic_path,
    atomic_write_json,
    file_lock,
    hold_folder,
    parse_temp,
    release_folder,
    remove_orphans,
    temp_files,
)
from artworks.storage.atomic import host_tag


def _dead_pid() -> int:
    """The pid of a process that has ended (it is not reused within the test)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(child.stdout)


def test_a_write_is_synced_renamed_and_its_folder_synced_in_that_order(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    target = tmp_path / "metrics.json"
    atomic_write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"]
    assert ".tmp" in events[0][1] and events[1][1] == str(target) and events[2][1] == str(tmp_path)
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("where", ["write", "sync"])
def test_disk_full_keeps_the_previous_file_and_no_temporary(tmp_path, monkeypatch, where):
    target = tmp_path / "history.csv"
    target.write_text("epoch\n0\n")
    full = OSError(errno.ENOSPC, "No space left on device")
    if where == "sync":
        monkeypatch.setattr(atomic, "_fsync_file", lambda path: (_ for _ in ()).throw(full))
    with pytest.raises(OSError) as err, atomic_open(target) as f:
        f.write("epoch\n0\n1\n")
        if where == "write":
            raise full
    assert target.read_text() == "epoch\n0\n" and list(tmp_path.iterdir()) == [target]
    assert err.value.filename == str(target)  # the message names the file the user knows
    assert f"The disk is full while writing {target}" in " ".join(user_message(err.value).split())


def test_keep_suffix_for_writers_that_insist_on_one(tmp_path):
    import numpy as np

    with atomic_path(tmp_path / "rows.npy", keep_suffix=True) as tmp:
        assert tmp.suffix == ".npy" and parse_temp(tmp).target == "rows.npy"
        np.save(tmp, np.arange(3))  # np.save would append .npy to any other name
    assert np.load(tmp_path / "rows.npy").tolist() == [0, 1, 2]


def test_orphans_of_dead_writers_go_live_and_foreign_ones_stay_unless_guarded(tmp_path):
    dead, live, here = _dead_pid(), os.getppid(), host_tag()
    files = {
        "dead": tmp_path / f"split.csv.tmp{dead}-{here}-0",
        "legacy": tmp_path / f"images-64px-abc.tmp{dead}.npy",  # the naming before this helper
        "live": tmp_path / f"split.csv.tmp{live}-{here}-0",
        "foreign": tmp_path / f"images-64px-abc.tmp{dead}-{'0' if here != '000000' else '1'}00000-0.npy",
    }
    for path in files.values():
        path.write_bytes(b"x" * 10)
    (tmp_path / "notes.tmp.txt").write_text("not ours")
    assert remove_orphans(tmp_path) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [files["live"].name, files["foreign"].name, "notes.tmp.txt"]
    )
    assert remove_orphans(tmp_path, guarded=lambda target: target.startswith("images-64px-")) == 10
    assert [t.path for t in temp_files(tmp_path)] == [files["live"]]


def _crash_child(target: str) -> None:
    os.setsid()
    os.environ[CRASH_ENV] = "before-replace@metrics.json:2"
    for value in (1, 2, 3):
        atomic_write_json(target, {"value": value})


def test_a_named_crash_point_kills_inside_the_nth_write_and_the_next_run_cleans_up(tmp_path):
    target = tmp_path / "metrics.json"
    child = multiprocessing.get_context("fork").Process(target=_crash_child, args=(str(target),))
    child.start()
    child.join(30)
    assert child.exitcode == -9  # SIGKILL of its own process group
    assert json.loads(target.read_text()) == {"value": 1}  # the first write stands whole
    (orphan,) = temp_files(tmp_path)
    assert json.loads(orphan.path.read_text()) == {"value": 2}  # the second was complete, not renamed
    size = orphan.path.stat().st_size
    assert remove_orphans(tmp_path) == size  # its writer is dead: whoever comes next removes it
    assert temp_files(tmp_path) == []


def _hold(lock: str, ready, release) -> None:
    with file_lock(lock, "the test cache", timeout=5):
        ready.set()
        release.wait(30)


def test_a_lock_held_too_long_names_its_holder_and_frees_itself_when_the_holder_dies(tmp_path):
    lock = tmp_path / "images-64px.lock"
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(str(lock), ready, release))
    holder.start()
    assert ready.wait(30)
    with pytest.raises(ArtworksError) as err, file_lock(lock, "the 64 px image cache", timeout=0.3):
        pass
    message = " ".join(err.value.render().split())
    assert f"Waited 0.3 s for the 64 px image cache, which is locked by process {holder.pid} on " in message
    assert socket.gethostname() in message and "never delete" in message
    holder.kill()  # SIGKILL: no cleanup ran, the operating system frees the lock
    holder.join()
    with file_lock(lock, "the 64 px image cache", timeout=5):
        assert json.loads(lock.with_name(lock.name + ".holder").read_text())["pid"] == os.getpid()


def _take_folder(folder: str, result) -> None:
    try:
        hold_folder(folder, "Wait for it.")
        result.put("held")
    except ArtworksError as err:
        result.put(str(err))


def test_one_process_per_run_folder_and_the_holder_removes_every_leftover(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    foreign = run / "checkpoints" / f"last.ckpt.tmp{os.getpid()}-ffffff-3"  # another host's killed writer
    foreign.write_bytes(b"x" * 100)
    try:
        assert hold_folder(run, "Wait for it.") == 100 and not foreign.exists()
        context = multiprocessing.get_context("fork")
        result = context.Queue()
        other = context.Process(target=_take_folder, args=(str(run), result))
        other.start()
        other.join(30)
        message = result.get(timeout=5)
        assert message.startswith(f"{run.resolve()} is in use by process {os.getpid()} on ")
        assert message.endswith("Wait for it.")
    finally:
        release_folder()
