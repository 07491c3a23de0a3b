"""Reading an offline W&B run back: the records of its ``run-*.wandb`` file, as W&B would upload them."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

from wandb.proto import wandb_internal_pb2


def run_file(directory: Path) -> Path:
    """The one offline run file under ``directory`` (``wandb/offline-run-*/run-*.wandb``)."""
    (path,) = Path(directory).glob("wandb/offline-run-*/run-*.wandb")
    return path


def wandb_records(path: Path) -> list[wandb_internal_pb2.Record]:
    """The records of a ``run-*.wandb`` file (LevelDB log format: 32 KiB blocks, 7-byte headers)."""
    data, block, pos, records, chunk = path.read_bytes(), 32768, 7, [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # the tail of a block too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        payload, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        chunk = payload if kind in (1, 2) else chunk + payload  # 1 full, 2 first, 3 middle, 4 last
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunk)
            records.append(record)
    return records


def read_records(directory: Path, timeout: float = 30.0) -> list[wandb_internal_pb2.Record]:
    """The records of the one offline run under ``directory``, once W&B has written them all.

    ``wandb.finish()`` can return before W&B's service has written the last records (the artifact, the
    summary, the exit record) to the file; wait for the exit record.
    """
    deadline = time.monotonic() + timeout
    while True:
        records = wandb_records(run_file(directory))
        if of_type(records, "exit") or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def of_type(records: list[wandb_internal_pb2.Record], kind: str) -> list:
    """The payloads of every record of ``kind`` (``run``, ``summary``, ``history``, ``artifact``, ...)."""
    return [getattr(r, kind) for r in records if r.WhichOneof("record_type") == kind]


def run_record(records: list[wandb_internal_pb2.Record]) -> wandb_internal_pb2.RunRecord:
    """The run's own record: name, job type, group, tags."""
    return of_type(records, "run")[0]


def history_keys(records: list[wandb_internal_pb2.Record]) -> set[str]:
    """Every top-level key logged with ``run.log`` (nested keys such as ``x/_type`` reduced to ``x``)."""
    keys = set()
    for history in of_type(records, "history"):
        for item in history.item:
            key = item.key or "/".join(item.nested_key)
            keys.add(key.rsplit("/", 1)[0] if key.rsplit("/", 1)[-1].startswith("_") else key)
    return keys


def final_summary(records: list[wandb_internal_pb2.Record]) -> dict:
    """The run's summary as W&B ends up with it; nested keys joined by ``/``."""
    summary: dict = {}
    for record in of_type(records, "summary"):
        for item in record.update:
            key = item.key or "/".join(item.nested_key)
            summary[key] = json.loads(item.value_json)
    return summary
