"""Seal data to a public key so that only the holder of the private key can open it.

X25519 with an ephemeral key per message, HKDF-SHA256 and AES-256-GCM (an ECIES "sealed box").
The credentials file is sealed by the worker to a key whose private half lives only in the
coordinator's browser cookie: the database, the storage and the broker together cannot open it.
"""

import base64
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_RAW = {"encoding": serialization.Encoding.Raw, "format": serialization.PublicFormat.Raw}
_INFO = b"fisoko credentials v1"


class SealError(ValueError):
    pass


def _b64(data):
    return base64.urlsafe_b64encode(data).decode()


def new_keypair():
    """(private key, public key), each as URL-safe base64 text."""
    private = X25519PrivateKey.generate()
    private_raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return _b64(private_raw), _b64(private.public_key().public_bytes(**_RAW))


def _key(shared, ephemeral_public):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_public, info=_INFO).derive(shared)


def seal(public_key, data):
    recipient = X25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(public_key))
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(**_RAW)
    nonce = os.urandom(12)
    key = _key(ephemeral.exchange(recipient), ephemeral_public)
    return ephemeral_public + nonce + AESGCM(key).encrypt(nonce, data, None)


def unseal(private_key, blob):
    try:
        private = X25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(private_key))
        ephemeral_public, nonce, sealed = blob[:32], blob[32:44], blob[44:]
        key = _key(private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public)), ephemeral_public)
        return AESGCM(key).decrypt(nonce, sealed, None)
    except Exception as error:  # a wrong or mangled key: the file cannot be opened, whatever the cause
        raise SealError("cannot open") from error
