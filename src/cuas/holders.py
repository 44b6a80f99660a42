"""Which processes hold a listening TCP port or UNIX socket (Linux ``/proc``).

When ``cuas run`` finds its API port or a bus socket taken, the usual culprit is a part of
an earlier run that outlived its supervisor; naming it (pid and command line) tells the
operator what to stop instead of leaving them to guess. Elsewhere than Linux, or without
the right to read another user's ``/proc/PID/fd``, the answer is simply empty.
"""

from __future__ import annotations

from pathlib import Path

_PROC = Path("/proc")
_TCP_LISTEN = "0A"  # st column of /proc/net/tcp
_SO_ACCEPTCON = 0x10000  # Flags column of /proc/net/unix: a listening socket


def _tcp_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == _TCP_LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def _unix_inodes(path: str) -> set[str]:
    try:
        lines = (_PROC / "net" / "unix").read_text().splitlines()[1:]
    except OSError:
        return set()
    inodes = set()
    for line in lines:
        cols = line.split()
        if len(cols) >= 8 and cols[7] == path and int(cols[3], 16) & _SO_ACCEPTCON:
            inodes.add(cols[6])
    return inodes


def _owners(inodes: set[str]) -> list[str]:
    """``pid N: command line`` of the processes with one of these socket inodes open."""
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found = []
    for proc in _PROC.iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
            if not wanted.intersection(map(_link, fds)):
                continue
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        found.append(f"pid {proc.name}: {cmd.strip()[:160]}")
    return found


def _link(fd: Path) -> str:
    try:
        return fd.readlink().as_posix()
    except OSError:  # closed meanwhile (e.g. the very fd that listed the folder)
        return ""


def tcp_port_holders(port: int) -> list[str]:
    """The processes listening on TCP ``port`` (any address), as ``pid N: command``."""
    return _owners(_tcp_inodes(port))


def unix_socket_holders(path: str) -> list[str]:
    """The processes listening on the UNIX socket at ``path``, as ``pid N: command``."""
    return _owners(_unix_inodes(path))
