"""CURVE keys: Z85 strings or key files written by ``reflexctl keygen``, applied to sockets."""

import os

import zmq
from zmq.utils import z85

KEY_LENGTH = 40


def load_key(value):
    """Returns a 40-character Z85 key (bytes) from a key, or from the path of a key file
    (one line holding the key)."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("ascii", errors="replace").strip()
    elif isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if os.path.isfile(path):
            with open(path, encoding="ascii", errors="replace") as file:
                lines = [line.strip() for line in file if line.strip()]
            if len(lines) != 1:
                raise ValueError(f"{path}: a key file holds one line with a 40-character Z85 key")
            text = lines[0]
        else:
            text = path.strip()
    else:
        raise TypeError(f"a CURVE key is a Z85 string, bytes or a key file path, not {type(value).__name__}")
    if not is_valid_key(text):
        raise ValueError(f"not a 40-character Z85 CURVE key nor an existing key file: {value!r}")
    return text.encode("ascii")


def is_valid_key(text):
    """True for a 40-character Z85 string that decodes to 32 bytes."""
    if len(text) != KEY_LENGTH:
        return False
    try:
        return len(z85.decode(text.encode("ascii"))) == 32
    except (ValueError, KeyError, UnicodeEncodeError, OverflowError):
        return False


def apply_curve(socket, server_public_key=None, client_secret_key=None, client_public_key=None):
    """Makes ``socket`` a CURVE client of the server whose public key is given. Without client
    keys a fresh pair is made (a server with an allow-list will refuse it); with only the
    secret key the public one is derived."""
    if server_public_key is None:
        if client_secret_key is not None or client_public_key is not None:
            raise ValueError("client CURVE keys need server_public_key too")
        return
    if client_public_key is not None and client_secret_key is None:
        raise ValueError("client_public_key needs client_secret_key")
    if client_secret_key is None:
        public, secret = zmq.curve_keypair()
    else:
        secret = load_key(client_secret_key)
        public = load_key(client_public_key) if client_public_key is not None else zmq.curve_public(secret)
        if zmq.curve_public(secret) != public:
            raise ValueError("client_public_key does not belong to client_secret_key")
    socket.curve_serverkey = load_key(server_public_key)
    socket.curve_publickey = public
    socket.curve_secretkey = secret
