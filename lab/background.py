"""Background office PC for the multi-phone capture (`python -m lab.background --config F`).

A real mirror port never carries phone traffic alone; the analyzer must ignore unrelated DNS, a
browser's HTTP GET, a TLS session to 443 and ARP without attributing any of it to a phone.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import struct
import sys
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
from scapy.layers.l2 import ARP, Ether

ETH_P_ALL = 0x0003


def client_hello(server_name: str, seed: int) -> bytes:
    """Build a TLS 1.0 record carrying a plausible ClientHello with an SNI extension."""
    rng = random.Random(seed)
    sni = server_name.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    extensions = sni_ext
    suites = bytes.fromhex("c014c013002f0035000a")
    body = (
        b"\x03\x01"
        + rng.randbytes(32)
        + b"\x00"
        + struct.pack("!H", len(suites))
        + suites
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def main(argv: list[str] | None = None) -> int:
    """Emit each kind of background traffic once, in a fixed order, and record what happened."""
    ap = argparse.ArgumentParser(prog="python -m lab.background")
    ap.add_argument("--config", required=True, type=Path)
    args = ap.parse_args(argv)
    cfg: dict[str, Any] = json.loads(args.config.read_text())
    ip, server, mac = cfg["ip"], cfg["server"], cfg["mac"]
    done: dict[str, Any] = {"dns": [], "http": None, "tls": None, "arp": "gratuitous"}

    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        raw.bind((cfg["iface"], 0))
        garp = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip
        )
        raw.send(bytes(garp))
    finally:
        raw.close()

    for i, (name, rdtype) in enumerate(cfg["queries"]):
        q = dns.message.make_query(name, rdtype, id=0x5C00 + i)
        try:
            r = dns.query.udp(q, server, timeout=3.0, source=ip)
            done["dns"].append([name, rdtype, dns.rcode.to_text(r.rcode())])
        except dns.exception.Timeout:
            done["dns"].append([name, rdtype, "TIMEOUT"])

    conn = http.client.HTTPConnection(server, 80, timeout=5, source_address=(ip, 0))
    conn.request(
        "GET",
        "/",
        headers={
            "Host": cfg["http_host"],
            "User-Agent": "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)",
        },
    )
    resp = conn.getresponse()
    resp.read()
    conn.close()
    done["http"] = resp.status

    with socket.create_connection((server, 443), timeout=5, source_address=(ip, 0)) as tls:
        tls.sendall(client_hello(cfg["http_host"], 443))
        done["tls"] = tls.recv(64).hex()

    Path(cfg["result_file"]).write_text(json.dumps(done, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
