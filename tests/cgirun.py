"""Runs formmail.cgi as a web server does: CGI variables in the environment, the body on stdin."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CGI = ROOT / "formmail.cgi"


def cgi_env(config_path, method="POST", body=b"", content_type="application/x-www-form-urlencoded",
            **headers):
    env = {
        # The python3 that the shebang finds must be this one (it has the dependencies).
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "Apache/2.4",
        "SERVER_NAME": "www.formmail.test",
        "SERVER_PORT": "80",
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "/formmail.cgi",
        "PATH_INFO": "",
        "QUERY_STRING": "",
        "REMOTE_ADDR": "198.51.100.7",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "FORMMAIL_CONFIG": str(config_path),
    }
    for name, value in headers.items():
        env["HTTP_" + name.upper()] = value
    return env


def run_cgi(config_path, body=b"", env_overrides=None, timeout=60, prefix=(), **kwargs):
    """Run formmail.cgi; return (status, headers, body bytes, stderr text)."""
    env = cgi_env(config_path, body=body, **kwargs)
    env.update(env_overrides or {})
    proc = subprocess.run([*prefix, str(CGI)], input=body, env=env, capture_output=True, timeout=timeout)
    head, _, payload = proc.stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "0 none").split()[0])
    return status, headers, payload, proc.stderr.decode("utf-8", "replace")
