"""A real IMAP server for tests: Debian's dovecot, run unprivileged on loopback.

`Dovecot.start(root)` writes its own dovecot.conf under `root` (listening on
127.0.0.1, free ports, one user from a passwd-file, Maildir storage) and runs
`dovecot -F` as a subprocess; `stop()` ends it. When the tests run as root
the server runs as `nobody` (dovecot refuses to give mail access to UID 0).
With `tls=True` a self-signed certificate for 127.0.0.1 is made with the
openssl CLI: the plain port offers STARTTLS and a second port is implicit
TLS. CI installs the server with `apt-get install -y dovecot-imapd`.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = shutil.which("dovecot") or next(
    (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.path.exists(p)), None
)
OPENSSL = shutil.which("openssl")
USER = "teacher"
PASSWORD = "imap-S3cret-Zq81!pw"

_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
# A wrong password must fail fast, and not slow down the next test's login.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    """A running dovecot; `port` is plain (+STARTTLS with tls), `tls_port` implicit TLS."""

    root: Path
    port: int
    tls_port: int
    cert: Path | None
    process: subprocess.Popen[bytes] | None = None
    _mailboxes: int = field(default=0)

    @classmethod
    def start(cls, *, tls: bool) -> Dovecot:
        """Configure and start a server in a new temporary folder."""
        root = Path(tempfile.mkdtemp(prefix="pln-dovecot-"))
        user, group = _run_as()
        server = cls(root, free_port(), free_port() if tls else 0, None)
        ssl_conf = "ssl = no"
        if tls:
            server.cert = _make_cert(root)
            ssl_conf = f"ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem"
        (root / "dovecot.conf").write_text(
            _CONF.format(
                root=root,
                ssl=ssl_conf,
                user=user,
                group=group,
                port=server.port,
                tls_port=server.tls_port,
            )
        )
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::nodelay=y\n")
        if os.geteuid() == 0:  # dovecot gives no mail access to root: run as `user`
            root.chmod(0o755)
            for path in [root, *root.rglob("*")]:
                shutil.chown(path, user, group)
        run_as = {"user": user, "group": group} if os.geteuid() == 0 else {}
        assert DOVECOT is not None
        with open(root / "stderr.log", "wb") as errors:
            server.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                stdout=subprocess.DEVNULL,
                stderr=errors,
                **run_as,
            )
        server._wait_ready()
        return server

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """Everything the server logged so far."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _wait_ready(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {(self.root / 'stderr.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    # -- what a test does to the mailbox, as its owner ---------------------------------

    def admin(self) -> imaplib.IMAP4:
        """A logged-in connection (plain: the test is on loopback)."""
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=5)
        conn.login(USER, PASSWORD)
        return conn

    def new_mailbox(self) -> str:
        """Create an empty mailbox with a name no other test uses."""
        self._mailboxes += 1
        name = f"Newsletters{self._mailboxes}"
        with self.admin() as conn:
            _ok(conn.create(name))
        return name

    def append(self, mailbox: str, *messages: bytes) -> None:
        """Deliver messages (unread) to `mailbox`."""
        with self.admin() as conn:
            for raw in messages:
                _ok(conn.append(mailbox, "", None, raw))

    def recreate(self, mailbox: str) -> None:
        """Delete and create `mailbox` again: a new UIDVALIDITY, UIDs from 1."""
        with self.admin() as conn:
            _ok(conn.delete(mailbox))
            _ok(conn.create(mailbox))

    def flags(self, mailbox: str) -> dict[int, str]:
        """Each message's flags by UID (read without changing anything)."""
        with self.admin() as conn:
            _ok(conn.select(mailbox, readonly=True))
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            _ok((typ, data))
        found = {}
        for line in data:
            if isinstance(line, bytes):
                match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)", line)
                if match:
                    uid = match.group(1) or match.group(4)
                    flags = match.group(2) if match.group(1) else match.group(3)
                    found[int(uid)] = flags.decode()
        return found

    def uidvalidity(self, mailbox: str) -> int:
        """The mailbox's UIDVALIDITY."""
        with self.admin() as conn:
            typ, data = conn.status(mailbox, "(UIDVALIDITY)")
            _ok((typ, data))
        match = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
        assert match
        return int(match.group(1))

    def trusting_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's certificate (only)."""
        assert self.cert is not None
        return ssl.create_default_context(cafile=str(self.cert))


def _ok(answer: tuple[str, object]) -> None:
    if answer[0] != "OK":
        raise RuntimeError(f"IMAP test setup failed: {answer!r}")


def _run_as() -> tuple[str, str]:
    """The (user, group) the server runs as: ourselves, or nobody when root."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_name, grp.getgrgid(nobody.pw_gid).gr_name
    return pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name


def _make_cert(root: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 / localhost (cert.pem, key.pem)."""
    assert OPENSSL is not None
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(root / "key.pem"),
            "-out",
            str(root / "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return root / "cert.pem"
