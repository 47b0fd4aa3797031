"""A scripted SMTP peer on 127.0.0.1 for failure cases a healthy Postfix does not show: a server
that refuses every recipient, one that never answers, one that drops the connection."""

import socket
import threading


class ScriptedSMTP:
    """Listens on an ephemeral port; `mode` is "refuse", "hang" or "drop"."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        with conn:
            if self.mode == "hang":
                self._stop.wait(30)
                return
            if self.mode == "drop":
                return
            f = conn.makefile("rb")
            conn.sendall(b"220 scripted ESMTP\r\n")
            for line in f:
                self.received.append(line)
                cmd = line[:4].upper()
                if cmd in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 scripted\r\n")
                elif cmd == b"MAIL":
                    conn.sendall(b"250 ok\r\n")
                elif cmd == b"RCPT":
                    conn.sendall(b"554 5.7.1 Relay access denied\r\n")
                elif cmd == b"RSET":
                    conn.sendall(b"250 ok\r\n")
                elif cmd == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"502 no\r\n")

    def close(self):
        self._stop.set()
        self.sock.close()
