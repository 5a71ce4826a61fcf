"""Lab certificates: a throw-away CA and a server certificate, made with `cryptography` per run.

The HTTPS scenarios need what an OCS Web Components server has: a certificate issued by an
enterprise CA the phones trust (pushed to them by certificate provisioning), with the names the
phones connect to. Generating them at run time keeps private keys out of the lab's code; the
runner copies the key and the chain next to the capture (they are lab keys, made to be public) so
capinspect and tshark can decrypt the committed capture.

Keys are RSA 2048 because the scenarios use RSA key exchange (AES128-SHA, AES256-GCM-SHA384),
which is what lets a server key decrypt a capture at all.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class LabPki:
    """Where one run's PEM files are."""

    ca_cert: Path
    server_cert: Path
    """The server certificate followed by the CA certificate (the chain the server sends)."""
    server_key: Path
    other_ca_cert: Path
    """An unrelated CA: the trust store of a phone that must reject the server."""


def _name(common_name: str, org: str = "Contoso Lab") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(common_name: str, now: datetime.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_pki(
    out: Path,
    names: tuple[str, ...],
    ca_name: str = "Contoso Lab Root CA",
    validity: tuple[str, str] = ("", ""),
) -> LabPki:
    """Write a CA, a server certificate for ``names`` (first = subject CN) and its key.

    ``validity`` fixes the server certificate's notBefore/notAfter (ISO dates, UTC midnight);
    empty means one hour before the run until 825 days after it.
    """
    now = datetime.datetime.now(datetime.UTC)
    if validity[0]:
        not_before = datetime.datetime.fromisoformat(validity[0]).replace(tzinfo=datetime.UTC)
        not_after = datetime.datetime.fromisoformat(validity[1]).replace(tzinfo=datetime.UTC)
        ca_start = not_before  # the CA's own validity then starts a day before the server's
    else:
        not_before = now - datetime.timedelta(hours=1)
        not_after = now + datetime.timedelta(days=825)
        ca_start = now
    ca_key, ca_cert = _ca(ca_name, ca_start)
    _, other_cert = _ca("Untrusted Lab Root CA", ca_start)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pki = LabPki(
        ca_cert=out / "ca.crt.pem",
        server_cert=out / "server.crt.pem",
        server_key=out / "server.key.pem",
        other_ca_cert=out / "other-ca.crt.pem",
    )
    pki.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    pki.other_ca_cert.write_bytes(other_cert.public_bytes(pem))
    pki.server_cert.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    pki.server_key.write_bytes(
        key.private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    return pki
