"""Hostile and extreme datasets (issue 19): a decompression-bomb PNG, a huge CSV field, a secret read
as a table, a one-class folder. Each is a one-line error naming the file (and line), never its content."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from nascli.cli import app


def claimed_png(path: Path, width: int, height: int) -> Path:
    """A valid, tiny PNG whose header claims `width` x `height` grey pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def image_folder(root: Path, classes: tuple[str, ...] = ("a", "b"), per_class: int = 3) -> Path:
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("L", (8, 8), color=i * 40).save(root / name / f"{i}.png")
    return root


def _one_line_error(result, where: str, words: str) -> None:
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.startswith(f"error: {where}: ") and words in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NASCLI_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("side", [100_000, 10_000])  # over Pillow's error limit; over its warning limit only
@pytest.mark.parametrize("command", [["data"], ["check", "conv", "-n", "1", "--dataset", "images", "--data-dir"]])
def test_a_decompression_bomb_png_is_refused_naming_the_file(runner, tmp_path, side, command):
    folder = image_folder(tmp_path / "imgs")
    bomb = claimed_png(folder / "a" / "bomb.png", side, side)
    result = runner.invoke(app, [*command, str(folder)])  # was PIL.Image.DecompressionBombError, a traceback
    _one_line_error(result, str(bomb), "the image claims more than 89,478,485 pixels")


def test_a_one_class_image_folder_is_refused(runner, tmp_path):
    folder = image_folder(tmp_path / "imgs", classes=("cats",), per_class=12)
    _one_line_error(runner.invoke(app, ["data", str(folder)]), str(folder), "holds 1 class; a classifier needs at least two")
    run = tmp_path / "run"
    result = runner.invoke(app, ["search", "conv", "--dataset", "images", "--data-dir", str(folder), "--run-dir", str(run)])
    _one_line_error(result, str(folder), "at least two")  # it was searched, every reward 1.0
    assert not run.exists()


def test_a_one_class_table_is_refused(runner, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("x,label\n" + "".join(f"{i},same\n" for i in range(20)))
    _one_line_error(runner.invoke(app, ["data", str(table), "--target", "label"]), str(table), "holds 1 class")


def test_a_csv_field_over_the_csv_module_limit_names_file_and_line(runner, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b,label\n1,2,0\n\n3," + "x" * 200_000 + ",1\n")
    result = runner.invoke(app, ["data", str(table), "--target", "label"])  # was _csv.Error, a traceback
    _one_line_error(result, f"{table}:4", "a field is longer than 131,072 characters")
    assert "xxx" not in result.output


def test_a_csv_error_never_quotes_the_file(runner, tmp_path):
    secret = tmp_path / ".env"
    secret.write_text("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    result = runner.invoke(app, ["data", str(secret), "--dataset", "csv", "--target", "label"])
    _one_line_error(result, str(secret), "no column named 'label' in the header (line 1, 1 column)")
    assert "AWS" not in result.output and "wJalr" not in result.output  # it printed the header's columns
    rows = tmp_path / "rows.csv"
    rows.write_text("a,label\n1,0\n\n# SECRET=1,2,3\n")
    result = runner.invoke(app, ["data", str(rows), "--target", "label"])
    _one_line_error(result, f"{rows}:4", "row has 3 fields, the header 2")  # its line, blank lines counted
    assert "SECRET" not in result.output
