"""A real Dovecot IMAP server on loopback for the email-in tests: its own config, a passwd-file user
and maildirs in a temporary folder, plaintext login allowed (loopback only).

Debian's ``dovecot-imapd`` (``.ci/run`` installs it); ``available()`` says whether it is here.
"""

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER = "support"
PASSWORD = "mailbox-secret"


def available():
    return Path(DOVECOT).exists()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self):
        # Not under pytest's tmp_path: as root, the mail user (nobody) must reach the folder.
        self.root = Path(tempfile.mkdtemp(prefix="fisoko-dovecot-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def start(self):
        if os.getuid() == 0:
            account = pwd.getpwnam("nobody")
            service_user = "dovenull"
        else:
            account = pwd.getpwuid(os.getuid())
            service_user = account.pw_name
        mail = self.root / "mail"
        mail.mkdir()
        if os.getuid() == 0:
            os.chown(mail, account.pw_uid, account.pw_gid)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        config = self.root / "dovecot.conf"
        config.write_text(
            f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
first_valid_uid = {account.pw_uid}
last_valid_uid = 0
default_login_user = {service_user}
default_internal_user = {"dovecot" if os.getuid() == 0 else service_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={account.pw_uid} gid={account.pw_gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with imaplib.IMAP4("127.0.0.1", self.port, timeout=2) as imap:
                    imap.login(USER, PASSWORD)
                    return self
            except (OSError, imaplib.IMAP4.error):
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
        log = (self.root / "dovecot.log").read_text() if (self.root / "dovecot.log").exists() else ""
        self.stop()
        raise RuntimeError(f"Dovecot did not start: {log[-2000:]}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self):
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(USER, PASSWORD)
        imap.select("INBOX")
        return imap

    def deliver(self, *letters):
        """APPEND each letter (bytes) to INBOX, unseen."""
        with self.connect() as imap:
            for letter in letters:
                status, _ = imap.append("INBOX", "", None, letter)
                assert status == "OK"

    def flagged(self, keyword):
        """How many letters carry ``keyword``, and how many do not."""
        with self.connect() as imap:
            _, with_it = imap.uid("SEARCH", None, "KEYWORD", keyword)
            _, without = imap.uid("SEARCH", None, "UNKEYWORD", keyword)
        return len(with_it[0].split()), len(without[0].split())
