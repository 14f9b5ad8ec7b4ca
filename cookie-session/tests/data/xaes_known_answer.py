# Independent XAES-256-GCM (c2sp.org/XAES-256-GCM) with Python's `cryptography`, for the
# known-answer test of format version 2.
import hmac, hashlib, base64
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def hkdf(secret, info, n=32):
    prk = hmac.new(b"\0"*32, secret, hashlib.sha256).digest()
    out=b""; t=b""; i=1
    while len(out)<n:
        t=hmac.new(prk, t+info+bytes([i]), hashlib.sha256).digest(); out+=t; i+=1
    return out[:n]

def aes_block(k, b):
    e = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    return e.update(b)+e.finalize()

def xaes_seal(k, n, pt, aad):
    L = int.from_bytes(aes_block(k, b"\0"*16), "big")
    k1 = ((L << 1) & ((1<<128)-1)) ^ (0x87 if L >> 127 else 0)
    kx=b""
    for c in (1,2):
        m = bytes([0,c,ord('X'),0]) + n[:12]
        kx += aes_block(k, (int.from_bytes(m,"big") ^ k1).to_bytes(16,"big"))
    return AESGCM(kx).encrypt(n[12:], pt, aad)

# C2SP vectors first, to check this script.
assert xaes_seal(b"\1"*32, b"ABCDEFGHIJKLMNOPQRSTUVWX", b"XAES-256-GCM", b"").hex() == "ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271"
assert xaes_seal(b"\3"*32, b"ABCDEFGHIJKLMNOPQRSTUVWX", b"XAES-256-GCM", b"c2sp.org/XAES-256-GCM").hex() == "986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d"

secret = b"0123456789abcdef0123456789abcdef"
sub = hkdf(secret, b"cookie-session/v2/encrypted")
kid = hkdf(secret, b"cookie-session/v1/key-id", 4)
assert kid.hex()=="0df2b11d"
# sanity: the v1 subkey matches the v1 known answer
assert hkdf(secret, b"cookie-session/v1/encrypted").hex()=="3c882c43cd0c492170b10b06f48b8a7cfe1cc95039712e502f7cd1892233e21f"
nonce = b"\7"*24
times = (1_700_000_000).to_bytes(8,"big")+(1_700_000_100).to_bytes(8,"big")+(1_700_086_500).to_bytes(8,"big")
pt = times + b'{"user":42}'
aad = b"cookie-session/v2/encrypted\0" + b"\xe2" + kid + b"id"
raw = b"\xe2" + kid + nonce + xaes_seal(sub, nonce, pt, aad)
print(sub.hex())
print(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())
