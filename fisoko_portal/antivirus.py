"""A tiny client of ClamAV's daemon: INSTREAM over a Unix socket (CLAMAV_SOCKET) or TCP.

Protocol (man clamd): ``zINSTREAM\\0``, then chunks of a 4-byte big-endian length and the data,
then a zero-length chunk; clamd answers ``stream: OK``, ``stream: <name> FOUND`` or
``<reason> ERROR``, ended by a NUL. clamd refuses a stream longer than its StreamMaxLength.
"""

import socket
import struct

from django.conf import settings

CHUNK_SIZE = 64 * 1024
MAX_REPLY = 4096


class ScanError(Exception):
    """clamd could not be reached, or could not scan the file."""


def scan(fileobj):
    """Return the name of the threat clamd finds in ``fileobj``, or None if it is clean.

    Raise ScanError when clamd is unreachable, times out or reports an error.
    """
    address = _address()
    try:
        with _connect(address) as sock:
            sock.sendall(b"zINSTREAM\0")
            fileobj.seek(0)
            try:
                while chunk := fileobj.read(CHUNK_SIZE):
                    sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(struct.pack(">I", 0))
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd hung up early (size limit, say): its reply tells why
            reply = _read_reply(sock)
    except OSError as error:
        raise ScanError(f"clamd at {address} is unreachable: {error!r}") from error
    finally:
        fileobj.seek(0)
    if reply == "stream: OK":
        return None
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        return reply.removeprefix("stream: ").removesuffix(" FOUND")
    raise ScanError(f"clamd at {address} answered {reply!r}")


def _address():
    """The Unix socket path, or (host, port) when CLAMAV_SOCKET is empty."""
    path = getattr(settings, "CLAMAV_SOCKET", "")
    if path:
        return str(path)
    return getattr(settings, "CLAMAV_HOST", "127.0.0.1"), getattr(settings, "CLAMAV_PORT", 3310)


def _connect(address):
    timeout = getattr(settings, "CLAMAV_TIMEOUT", 10)
    if isinstance(address, tuple):
        return socket.create_connection(address, timeout=timeout)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def _read_reply(sock):
    reply = b""
    while b"\0" not in reply and len(reply) < MAX_REPLY:
        data = sock.recv(MAX_REPLY)
        if not data:
            break
        reply += data
    return reply.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
