"""Builds the folder a site owner uploads: formmail.cgi, the package, templates, a config to edit,
the dependencies as pure-Python copies in lib/, .htaccess rules, a sample form and a short README."""

import importlib
import importlib.metadata
import os
import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Runtime dependencies, by import name and distribution name. markupsafe's C speed-up is left
# out: its pure-Python fallback runs on any Python the host has.
DEPENDENCIES = (("werkzeug", "werkzeug"), ("jinja2", "jinja2"), ("markupsafe", "markupsafe"),
                ("dns", "dnspython"))
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.pyd", "*.c", "*.dylib")
PRIVATE_FOLDERS = ("lib", "formmail", "templates")
DENY_ALL = (
    "# formmail: nothing in this folder is ever served.\n"
    "<IfModule mod_authz_core.c>\n    Require all denied\n</IfModule>\n"
    "<IfModule !mod_authz_core.c>\n    Order deny,allow\n    Deny from all\n</IfModule>\n"
)
SITE_HTACCESS = (
    "# formmail: run formmail.cgi; never serve the config, the code, the templates or the data.\n"
    "Options -Indexes +ExecCGI\n"
    "AddHandler cgi-script .cgi\n"
    "DirectoryIndex form.html\n"
    "<FilesMatch \"(^config.*\\.ini$|\\.py$|\\.pyc$|\\.csv$|\\.log$|^README|^\\.)\">\n"
    "    <IfModule mod_authz_core.c>\n        Require all denied\n    </IfModule>\n"
    "    <IfModule !mod_authz_core.c>\n        Order deny,allow\n        Deny from all\n    </IfModule>\n"
    "</FilesMatch>\n"
    "RedirectMatch 404 /(lib|formmail|templates|data|outbox)(/|$)\n"
)
README = """formmail - アップロード手順 / How to upload
================================================

[日本語]
1. config.ini を開き、sender（自社ドメインの送信元アドレス）と [form:contact] の
   recipients（受信者）を設定します。各項目の説明はファイル内にあります。
2. このフォルダの中身をすべて、FTP でサイトのフォルダ（例: public_html/contact/）に
   アップロードします。formmail.cgi はバイナリモードで送り、パーミッションを 755 にします。
3. ブラウザで form.html を開き、テスト送信します。受付内容は data/ フォルダに保存されます。
4. 迷惑メール判定を避けるため、formmail.cgi/doctor で診断できます（config.ini の
   doctor_password を設定した場合のみ）。

[English]
1. Open config.ini and set `sender` (an address on your own domain) and `recipients` in
   [form:contact]. Every setting is explained in the file.
2. Upload everything in this folder with FTP into a folder of your site (e.g.
   public_html/contact/). Upload formmail.cgi in binary mode and give it permission 755.
3. Open form.html in a browser and send a test. Submissions are kept in the data/ folder.
4. To check that mail will arrive (SPF, DMARC), set doctor_password in config.ini and open
   formmail.cgi/doctor.

Python 3.9 or newer must be installed on the server; the libraries are included in lib/.
"""


def bundle(outdir, make_zip=False):
    """Write the upload folder (and OUTDIR.zip with `make_zip`); return the folder's path."""
    out = Path(outdir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    cgi = (ROOT / "formmail.cgi").read_bytes().replace(b"\r\n", b"\n")
    (out / "formmail.cgi").write_bytes(cgi)
    os.chmod(out / "formmail.cgi", 0o755)
    shutil.copytree(ROOT / "formmail", out / "formmail", ignore=SKIP)
    shutil.copytree(ROOT / "templates", out / "templates", ignore=SKIP)
    shutil.copy(ROOT / "config.example.ini", out / "config.example.ini")
    shutil.copy(ROOT / "config.example.ini", out / "config.ini")
    os.chmod(out / "config.ini", 0o600)
    _copy_dependencies(out / "lib")
    for folder in PRIVATE_FOLDERS:
        (out / folder / ".htaccess").write_text(DENY_ALL, encoding="ascii")
    (out / ".htaccess").write_text(SITE_HTACCESS, encoding="ascii")
    from formmail.pages import Templates

    (out / "form.html").write_text(Templates(ROOT / "templates").render("form.html", action="formmail.cgi"),
                                   encoding="utf-8")
    (out / "README.txt").write_text(README, encoding="utf-8")
    if make_zip:
        _zip(out)
    return out


def _copy_dependencies(lib):
    lib.mkdir()
    licences = lib / "LICENSES"
    licences.mkdir()
    for module, dist in DEPENDENCIES:
        package = Path(importlib.import_module(module).__file__).parent
        shutil.copytree(package, lib / module, ignore=SKIP)
        for file in importlib.metadata.distribution(dist).files or ():
            if "licen" in file.name.lower() or "copying" in file.name.lower():
                source = Path(file.locate())
                if source.is_file():
                    shutil.copy(source, licences / f"{dist}-{file.name}")


def _zip(out):
    with zipfile.ZipFile(out.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(out.rglob("*")):
            info = zipfile.ZipInfo.from_file(path, Path(out.name) / path.relative_to(out))
            if path.is_file():
                with open(path, "rb") as f:
                    z.writestr(info, f.read(), zipfile.ZIP_DEFLATED)
            else:
                z.writestr(info, b"")
