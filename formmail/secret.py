"""The site's signing key: the config's `secret`, or one created once in the log folder."""

import os
import secrets as random
import time

SECRET_NAME = ".secret"
SECRET_BYTES = 32


def site_secret(config):
    """The key (bytes) that signs time tokens and hashes client addresses."""
    if config.secret:
        return config.secret.encode("utf-8")
    return _stored_secret(config.log_dir, config.file_mode, config.dir_mode)


def _stored_secret(folder, file_mode, dir_mode):
    from formmail.store import ensure_private_dir

    path = os.path.join(folder, SECRET_NAME)
    for _ in range(50):
        try:
            with open(path, "rb") as f:
                data = f.read()
            if len(data) == SECRET_BYTES * 2:
                return data
        except FileNotFoundError:
            ensure_private_dir(folder, dir_mode)
            temp = f"{path}.{os.getpid()}.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode)
            try:
                os.write(fd, random.token_hex(SECRET_BYTES).encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(temp, path)  # published whole, once: a concurrent creator loses the race
            except FileExistsError:
                pass
            finally:
                os.unlink(temp)
            continue
        time.sleep(0.01)  # another process is writing it
    raise OSError(f"cannot read or create {path}")
