"""C2SP tlog-cosignature (Ed25519, cosignature/v1), written from the spec alone with
Python's `cryptography`: a second implementation that Access Log's is checked against.

    python3 cosign.py vector                       # the known answer, as JSON
    python3 cosign.py sign SEED_HEX NAME TIME      # note on stdin -> the note cosigned
    python3 cosign.py verify VKEY                  # note on stdin -> prints the time

Spec: https://github.com/C2SP/C2SP/blob/main/tlog-cosignature.md (signature lines per
https://github.com/C2SP/C2SP/blob/main/signed-note.md).
"""
import base64
import hashlib
import json
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DASH = "\u2014 "


def key_id(name, public_key):
    return hashlib.sha256(name.encode() + b"\n" + b"\x04" + public_key).digest()[:4]


def split(note):
    text, sigs = note.rsplit("\n\n", 1)
    return text + "\n", [l for l in sigs.split("\n") if l]


def message(body, time):
    return f"cosignature/v1\ntime {time}\n".encode() + body.encode()


def cosign(seed, name, time, note):
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    body, _ = split(note)
    sig = key.sign(message(body, time))
    blob = key_id(name, public) + struct.pack(">Q", time) + sig
    return f"{DASH}{name} {base64.b64encode(blob).decode()}\n"


def verify(vkey, note):
    name, kid_hex, key64 = vkey.strip().split("+", 2)
    raw = base64.b64decode(key64)
    assert raw[0] == 0x04, "not a cosignature/v1 key"
    public = raw[1:]
    assert key_id(name, public).hex() == kid_hex, "key id mismatch"
    body, lines = split(note)
    times = []
    for line in lines:
        who, b64 = line[len(DASH):].split(" ", 1)
        blob = base64.b64decode(b64)
        if who != name or blob[:4].hex() != kid_hex:
            continue
        (time,) = struct.unpack(">Q", blob[4:12])
        Ed25519PublicKey.from_public_bytes(public).verify(blob[12:], message(body, time))
        times.append(time)
    assert times, "no cosignature by this key"
    return times[-1]


def vector():
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    name = "witness.example/w1"
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    body = "demo.example/access-log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    time = 1679315147
    kid = key_id(name, public)
    vkey64 = base64.b64encode(bytes([4]) + public).decode()
    return {
        "description": "Ed25519 cosignature/v1 (C2SP tlog-cosignature), deterministic; made by cosign.py",
        "private_key_seed_hex": seed.hex(),
        "public_key_hex": public.hex(),
        "cosigner_name": name,
        "key_id_hex": kid.hex(),
        "verifier_key": f"{name}+{kid.hex()}+{vkey64}",
        "time": time,
        "checkpoint_body": body,
        "signed_message": message(body, time).decode(),
        "signature_line": cosign(seed, name, time, body + "\n"),
    }


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "vector":
        print(json.dumps(vector(), indent=2, ensure_ascii=False))
    elif mode == "sign":
        note = sys.stdin.read()
        sys.stdout.write(note + cosign(bytes.fromhex(sys.argv[2]), sys.argv[3], int(sys.argv[4]), note))
    elif mode == "verify":
        print(verify(sys.argv[2], sys.stdin.read()))
    else:
        sys.exit(f"unknown mode {mode}")
