"""TensorBoard event files: the events nascli writes, and what a folder of them already holds.

Built from TensorBoard's own protocol buffers and record writer, without
TensorFlow: scalars as `simple_value`s (float32: TensorBoard's fast loader
reads no other scalar type, so a child's MACs keep 7 significant digits here;
the run store and MLflow have them exact), the architecture image as a PNG
image summary, and a child's HParams session as the plugin's session-start
and session-end summaries.
"""

from __future__ import annotations

import io
import os
import socket
import time
from itertools import count
from pathlib import Path

from PIL import Image
from google.protobuf import struct_pb2
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata as hparams_metadata, plugin_data_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

_FILE_NUMBER = count()


def scalar_event(tag: str, step: int, value: float, wall_time: float) -> event_pb2.Event:
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary)


def image_event(tag: str, step: int, png: bytes, wall_time: float) -> event_pb2.Event:
    with Image.open(io.BytesIO(png)) as picture:
        width, height, channels = picture.width, picture.height, len(picture.getbands())
    image = summary_pb2.Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=png)
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, image=image)])
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary)


def _hparams_event(tag: str, data: plugin_data_pb2.HParamsPluginData, wall_time: float) -> event_pb2.Event:
    value = summary_pb2.Summary.Value(tag=tag, metadata=hparams_metadata.create_summary_metadata(data))
    return event_pb2.Event(wall_time=wall_time, summary=summary_pb2.Summary(value=[value]))


def _hparam_value(value: int | float | str) -> struct_pb2.Value:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return struct_pb2.Value(number_value=float(value))
    return struct_pb2.Value(string_value=str(value))


def session_start_event(hparams: dict[str, int | float | str], start: float) -> event_pb2.Event:
    info = plugin_data_pb2.SessionStartInfo(start_time_secs=start)
    for name, value in hparams.items():
        info.hparams[name].CopyFrom(_hparam_value(value))
    return _hparams_event(hparams_metadata.SESSION_START_INFO_TAG,
                          plugin_data_pb2.HParamsPluginData(session_start_info=info), start)


def session_end_event(succeeded: bool, end: float) -> event_pb2.Event:
    status = api_pb2.STATUS_SUCCESS if succeeded else api_pb2.STATUS_FAILURE
    info = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=end)
    return _hparams_event(hparams_metadata.SESSION_END_INFO_TAG,
                          plugin_data_pb2.HParamsPluginData(session_end_info=info), end)


class EventFile:
    """A new event file in `folder`, written synchronously: each `write` is on disk when it returns
    (so TensorBoard shows a live search as it goes, and nothing waits in a queue when the process ends)."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_FILE_NUMBER):06d}"
        self._writer = RecordWriter(open(folder / name, "wb"))
        self.write([event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")])

    def write(self, events: list[event_pb2.Event]) -> None:
        for event in events:
            self._writer.write(event.SerializeToString())
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def written_points(folder: Path) -> set[tuple[str, int]]:
    """(tag, step) of every summary in the event files directly in `folder` (none when it is missing)."""
    found: set[tuple[str, int]] = set()
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*tfevents*")):
        for event in LegacyEventFileLoader(str(path)).Load():
            found.update((value.tag, event.step) for value in event.summary.value)
    return found
