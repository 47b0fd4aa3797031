"""Small state files of dated lines ("TIMESTAMP FIELD ..."), read leniently, replaced whole."""

import os

from formmail.errors import LogUnavailable


def read(path, since):
    """[(timestamp, [fields...])] of lines newer than `since`; torn or odd lines are skipped."""
    entries = []
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                try:
                    moment = float(parts[0])
                except (IndexError, ValueError):
                    continue  # a blank line, or one torn by a crash
                fields = parts[1:]
                if moment > since:
                    entries.append((moment, fields))
    except FileNotFoundError:
        pass
    return entries


def write(log, path, entries):
    """Replace the file whole (temp file, then rename); LogUnavailable if it cannot be."""
    text = "".join(f"{t:.3f} {' '.join(fields)}\n" for t, fields in entries)
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, log.file_mode)
        try:
            data = text.encode("ascii")
            if os.write(fd, data) != len(data):
                raise OSError("short write")
        finally:
            os.close(fd)
        os.rename(temp, path)
    except OSError as e:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise LogUnavailable(f"cannot write {path}: {e}") from None
