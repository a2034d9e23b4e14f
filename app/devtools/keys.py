"""The development RSA key pair for the client assertion (never used outside dev)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

logger = logging.getLogger(__name__)


def ensure_dev_key(path: Path) -> Path:
    """Create an RSA private key (PEM) at `path` on first use; keep it afterwards.

    Workers starting together on a fresh checkout all find no key: each makes one, and
    the first to put it in place wins; the others keep the winner's, so every worker
    signs with the same key and none fails.
    """
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    if _put_in_place(path, _new_private_pem()):
        logger.info("created a development key pair at %s", path)
    # Winner or not, from the key in place: every racer writes the same public half.
    public = _public_pem(path.read_bytes())
    _replace_atomically(path.with_suffix(".pub.pem"), public, mode=0o644)
    return path


def _new_private_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(private_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _put_in_place(path: Path, pem: bytes) -> bool:
    """Write `pem` whole to a private temporary file, then link it at `path`: the link
    fails if another process got there first, so `path` is never half-written and never
    replaced. True if ours is the key at `path`."""
    temporary = _written_temporary(path, pem, mode=0o600)  # owner-only: a private key
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True


def _replace_atomically(path: Path, content: bytes, *, mode: int) -> None:
    """Write `content` to `path` so that readers see the old file or the whole new one."""
    os.replace(_written_temporary(path, content, mode=mode), path)


def _written_temporary(beside: Path, content: bytes, *, mode: int) -> Path:
    descriptor, name = tempfile.mkstemp(prefix=f".{beside.name}.", dir=beside.parent)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), mode)
        file.write(content)
    return Path(name)
