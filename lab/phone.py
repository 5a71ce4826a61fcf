"""OCPE desk-phone emulator (`python -m lab.phone --config F`, run inside the phone's namespace).

It follows the boot sequence the seed describes: lease an address (DISCOVER/OFFER/REQUEST/ACK over
a raw socket, since the interface has no address yet), send an MS-UC-Client DHCPINFORM, resolve
ucupdates-r2.<option 15 domain>, POST the check-in, fetch each offered file, and after a good
download idle, "reboot" and check in again. Everything after the lease goes through the kernel's
own UDP/TCP stack so the capture holds genuine TCP behaviour.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import select
import socket
import ssl
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from lab.dhcpwire import MS_UC_CLIENT, decode_option43, decode_option120
from lab.firmware import firmware_bytes

ETH_P_ALL = 0x0003
SO_BINDTODEVICE = 25
# No `timeout=` on subprocess.run here: it polls with time.sleep, which libfaketime breaks (see
# pause()); `ip` returns at once anyway.
USER_AGENT = "Microsoft UCPhone Device"
LPE_USER_AGENT = "CPE/{version} OCPhone/{version} (Microsoft Lync 2010 Phone Edition)"
"""The user agent of a Lync Phone Edition phone: the form Microsoft's "IP Phone Inventory Report"
(Lync Server 2013) shows for a CX600's registration (``CPE/4.0.7423.1 OCPhone/4.0.7423.1
(Microsoft Lync 2010 (Beta) Phone Edition)``). That is the SIP user agent; what the phone's HTTP
stack sends is unpublished, so the lab's LPE phones use the same string for HTTP."""
NTP_PORT = 123
NTP_EPOCH_OFFSET = 2_208_988_800
"""Seconds from 1900-01-01 (NTP era 0) to 1970-01-01."""
NTP_ATTEMPTS = 2
INFORM_PRL = [1, 3, 6, 15, 42, 43, 120]
LEASE_PRL = [1, 3, 6, 15, 42]
INFORM_ATTEMPTS = 2
MSG_NAMES = {1: "discover", 2: "offer", 3: "request", 5: "ack", 6: "nak", 8: "inform"}


def seeded(key: str, bits: int = 32) -> int:
    """Derive xids and DNS ids from a string so reruns put the same numbers on the wire."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[: bits // 8], "big")


def mac_bytes(mac: str) -> bytes:
    """Convert aa:bb:... to the 6 raw bytes BOOTP's chaddr field wants."""
    return bytes(int(x, 16) for x in mac.split(":"))


def opt(options: list[Any], name: str) -> Any:
    """Return one option from a scapy DHCP option list (None when absent)."""
    for item in options:
        if isinstance(item, tuple) and item[0] == name:
            return item[1] if len(item) == 2 else list(item[1:])
    return None


class Phone:
    """State of one phone across its boots."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.iface: str = cfg["iface"]
        self.mac: str = cfg["mac"]
        self.version: str = cfg["version"]
        self.boots: list[dict[str, Any]] = []
        self.outcome = ""
        self.tls_seen: dict[str, Any] = {}

    # --- DHCP -------------------------------------------------------------------------------

    def _raw_dhcp(self, xid: int, msgtype: str, extra: list[Any], timeout: float) -> Any:
        """Broadcast one DHCP message from 0.0.0.0 and wait for the matching reply."""
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            sock.bind((self.iface, 0))
            options = [("message-type", msgtype), ("client_id", b"\x01" + mac_bytes(self.mac))]
            options += extra + ["end"]
            frame = (
                Ether(src=self.mac, dst="ff:ff:ff:ff:ff:ff")
                / IP(src="0.0.0.0", dst="255.255.255.255", ttl=128, id=xid & 0xFFFF)
                / UDP(sport=68, dport=67)
                / BOOTP(chaddr=mac_bytes(self.mac), xid=xid, flags=0)
                / DHCP(options=options)
            )
            sock.send(bytes(frame))
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([sock], [], [], left)
                if not ready:
                    break
                data, addr = sock.recvfrom(65535)
                if addr[2] == socket.PACKET_OUTGOING:
                    continue
                pkt = Ether(data)
                if BOOTP in pkt and pkt[BOOTP].op == 2 and pkt[BOOTP].xid == xid:
                    return pkt
            raise TimeoutError(f"no reply to DHCP {msgtype} xid {xid:#010x}")
        finally:
            sock.close()

    def lease(self, boot: int) -> dict[str, Any]:
        """DISCOVER/OFFER/REQUEST/ACK, then configure the address like the phone's stack would."""
        xid = seeded(f"{self.cfg['scenario']}/{self.mac}/{boot}/lease")
        offer = self._raw_dhcp(xid, "discover", [("param_req_list", LEASE_PRL)], 4.0)
        yiaddr = offer[BOOTP].yiaddr
        server_id = opt(offer[DHCP].options, "server_id")
        ack = self._raw_dhcp(
            xid,
            "request",
            [
                ("requested_addr", yiaddr),
                ("server_id", server_id),
                ("param_req_list", LEASE_PRL),
            ],
            4.0,
        )
        if opt(ack[DHCP].options, "message-type") != 5:
            raise RuntimeError("DHCP request was not ACKed")
        mask = opt(ack[DHCP].options, "subnet_mask") or "255.255.255.0"
        prefix = sum(bin(int(x)).count("1") for x in mask.split("."))
        subprocess.run(["ip", "addr", "add", f"{yiaddr}/{prefix}", "dev", self.iface], check=True)
        lease: dict[str, Any] = {"xid": xid, "ip": yiaddr, "server_id": server_id, "mask": mask}
        domain = opt(ack[DHCP].options, "domain")
        if domain:
            raw = domain if isinstance(domain, bytes) else str(domain).encode()
            lease["domain"] = raw.rstrip(b"\x00").decode("ascii", "replace")
        return lease

    def inform(self, boot: int, ip: str) -> dict[str, Any]:
        """MS-UC-Client DHCPINFORM through a kernel socket; decodes 43/120/15 from the ACK."""
        xid = seeded(f"{self.cfg['scenario']}/{self.mac}/{boot}/inform")
        pkt = BOOTP(chaddr=mac_bytes(self.mac), xid=xid, ciaddr=ip, flags=0) / DHCP(
            options=[
                ("message-type", "inform"),
                ("client_id", b"\x01" + mac_bytes(self.mac)),
                ("vendor_class_id", MS_UC_CLIENT.encode()),
                ("param_req_list", INFORM_PRL),
                "end",
            ]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.iface.encode())
            sock.bind(("0.0.0.0", 68))
            # Unanswered, the INFORM is retransmitted with the same xid, then the phone goes on
            # without options 43/120 (the device-update lookup needs only option 15).
            for attempt in range(1, INFORM_ATTEMPTS + 1):
                sock.sendto(bytes(pkt), ("255.255.255.255", 67))
                deadline = time.monotonic() + 4.0
                while (left := deadline - time.monotonic()) > 0:
                    ready, _, _ = select.select([sock], [], [], left)
                    if not ready:
                        break
                    data, _ = sock.recvfrom(65535)
                    reply = BOOTP(data)
                    if reply.op == 2 and reply.xid == xid and DHCP in reply:
                        answer = self._decode_inform(xid, reply)
                        if attempt > 1:
                            answer["attempts"] = attempt
                        return answer
            return {"xid": xid, "answered": False, "attempts": INFORM_ATTEMPTS}
        finally:
            sock.close()

    @staticmethod
    def _decode_inform(xid: int, reply: Any) -> dict[str, Any]:
        raw = bytes(reply[DHCP])
        found: dict[int, bytes] = {}
        i = 0
        while i < len(raw):
            code = raw[i]
            if code == 0:
                i += 1
                continue
            if code == 255 or i + 1 >= len(raw):
                break
            length = raw[i + 1]
            found[code] = found.get(code, b"") + raw[i + 2 : i + 2 + length]
            i += 2 + length
        out: dict[str, Any] = {"xid": xid}
        if 43 in found:
            out["option43_hex"] = found[43].hex()
            out["option43"] = decode_option43(found[43])
        if 120 in found:
            out["option120_hex"] = found[120].hex()
            out["option120"] = decode_option120(found[120])
        if 15 in found:
            out["domain"] = found[15].rstrip(b"\x00").decode("ascii", "replace")
        if 6 in found:
            d = found[6]
            out["dns"] = [".".join(str(b) for b in d[j : j + 4]) for j in range(0, len(d), 4)]
        if 3 in found:
            out["router"] = ".".join(str(b) for b in found[3][:4])
        if 42 in found:
            d = found[42]
            out["ntp"] = [".".join(str(b) for b in d[j : j + 4]) for j in range(0, len(d), 4)]
        return out

    # --- Lync Phone Edition: time and the sign-in path ----------------------------------------

    def user_agent(self) -> str:
        """The HTTP user agent: OCPE's, or the OCPhone form for a Lync Phone Edition phone."""
        if self.cfg.get("lpe"):
            return LPE_USER_AGENT.format(version=self.version)
        return USER_AGENT

    def ntp(self, server: str, src: str) -> dict[str, Any]:
        """Ask option 42's server for the time (NTPv3 client, mode 3, from port 123).

        The phone's clock is the process clock (libfaketime, started at the default clock by the
        runner). An answer sets it: the lab's NTP server runs on the same kernel clock, so the
        phone sets its clock by clearing the fake offset (``+0``). Unanswered, the request is sent
        once more after 2 s; then the clock stays at its default.
        """
        lpe = self.cfg["lpe"]
        record: dict[str, Any] = {
            "server": server,
            "clock_before": lpe["default_clock"],
            "answered": False,
            "attempts": 0,
        }
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((src, NTP_PORT))
            for attempt in range(1, NTP_ATTEMPTS + 1):
                record["attempts"] = attempt
                t1 = time.time() + NTP_EPOCH_OFFSET
                stamp = int(t1).to_bytes(4, "big") + int((t1 % 1) * 2**32).to_bytes(4, "big")
                sock.sendto(bytes([0x1B]) + bytes(39) + stamp, (server, NTP_PORT))
                deadline = time.monotonic() + 2.0
                while (left := deadline - time.monotonic()) > 0:
                    ready, _, _ = select.select([sock], [], [], left)
                    if not ready:
                        break
                    data, _ = sock.recvfrom(512)
                    if len(data) >= 48 and data[0] & 7 == 4 and data[24:32] == stamp:
                        record.update(
                            {
                                "answered": True,
                                "leap": data[0] >> 6,
                                "version": (data[0] >> 3) & 7,
                                "stratum": data[1],
                            }
                        )
                        Path(lpe["clock_file"]).write_text("+0\n")
                        record["clock_set"] = True
                        return record
            record["clock_set"] = False
            return record
        finally:
            sock.close()

    def signin(
        self, boot: int, inform: dict[str, Any], dns_server: str, src: str
    ) -> dict[str, Any]:
        """Open the Certificate Provisioning URL of option 43 (``<2>://<3>:<4><5>``).

        The phone resolves sub-option 3, connects to sub-option 4 with sub-option 3 as SNI and
        checks the certificate against it and its trust store. On success it fetches the service
        URL once (what follows a PIN, the certificate request, is not emulated).
        """
        subs = {
            s["code"]: s["value"]
            for s in (inform.get("option43") or {}).get("suboptions", [])
            if s["complete"]
        }
        host, port, path = subs.get(3, ""), int(subs.get(4) or 443), subs.get(5, "")
        record: dict[str, Any] = {
            "url": f"{subs.get(2, 'https')}://{host}:{port}{path}",
            "host": host,
            "port": port,
            "path": path,
            "sni": host,
        }
        answer = self.resolve(boot, host, dns_server, src)
        record["dns"] = answer
        if not answer.get("a"):
            record["error"] = f"{host} did not resolve ({answer['rcode']})"
            return record
        record["address"] = answer["a"][0]
        try:
            tls = self.tls_socket(boot, answer["a"][0], port, host, src)
        except ssl.SSLError as exc:
            record["tls_failure"] = {
                "error": exc.reason or str(exc),
                "verify_message": getattr(exc, "verify_message", None),
            }
            return record
        record["tls"] = tls_info(tls)
        conn = http.client.HTTPConnection(answer["a"][0], port, timeout=5)
        conn.sock = tls
        status, data = self._get(conn, host, path, self.user_agent())
        conn.close()
        record["status"] = status
        record["response_body_bytes"] = len(data)
        return record

    # --- DNS / HTTP -------------------------------------------------------------------------

    def resolve(self, boot: int, name: str, server: str, src: str) -> dict[str, Any]:
        """A query via a kernel UDP socket; records rcode, CNAME chain and addresses."""
        qid = seeded(f"{self.cfg['scenario']}/{self.mac}/{boot}/dns/{name}", 16)
        query = dns.message.make_query(name, "A", id=qid)
        record: dict[str, Any] = {"qname": name, "qtype": "A"}
        try:
            resp = dns.query.udp(query, server, timeout=3.0, source=src)
        except dns.exception.Timeout:
            record["rcode"] = "TIMEOUT"
            return record
        record["rcode"] = dns.rcode.to_text(resp.rcode())
        record["cname"] = []
        record["a"] = []
        for rrset in resp.answer:
            for rdata in rrset:
                if rrset.rdtype == dns.rdatatype.CNAME:
                    record["cname"].append(str(rdata.target).rstrip("."))
                elif rrset.rdtype == dns.rdatatype.A:
                    record["a"].append(rdata.address)
        return record

    def request_xml(self) -> bytes:
        """Build the check-in body in the phone's dialect (both are lab inventions, see brief)."""
        c = self.cfg
        if c["request_dialect"] == "B":
            root = ET.Element(
                "ucDeviceRequest",
                {
                    "device-type": "UCPhone",
                    "mac_address": self.mac.replace(":", "-").upper(),
                    "serial": c["serial"],
                    "brand": c["vendor"],
                    "model": c["model"],
                    "rev": c["revision"],
                    "language": c["locale"],
                },
            )
            if c.get("user"):
                root.set("user", c["user"])
            ET.SubElement(
                root,
                "installed",
                {"file": "CPE.nbt", "ver": self.version, "timestamp": "01-01-1601 00:00:00"},
            )
            return ET.tostring(root)
        root = ET.Element("Request")
        for tag, value in (
            ("DeviceType", "UCPhone"),
            ("MacAddress", self.mac.replace(":", "").upper()),
            ("SerialNumber", c["serial"]),
            ("Vendor", c["vendor"]),
            ("Model", c["model"]),
            ("Revision", c["revision"]),
            ("Locale", c["locale"]),
            ("UserName", c.get("user", "")),
        ):
            ET.SubElement(root, tag).text = value
        mods = ET.SubElement(root, "Modules")
        ET.SubElement(
            mods,
            "Module",
            {"FileName": "cpe.nbt", "Version": self.version, "TimeStamp": "01-01-1601 00:00:00"},
        )
        return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root)

    @staticmethod
    def parse_response(body: bytes) -> dict[str, Any]:
        """Understand both response dialects; unknown text simply yields no downloads."""
        text = body.decode("utf-8", "replace")
        out: dict[str, Any] = {"server_version": None, "service_version": None, "files": []}
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return out
        if root.find("Downloads") is not None or root.find("ServerVersion") is not None:
            out["dialect"] = "A"
            out["server_version"] = root.findtext("ServerVersion")
            out["service_version"] = root.findtext("ServiceVersion")
            for f in root.iter("File"):
                out["files"].append(
                    {
                        "name": f.get("Name", ""),
                        "version": f.get("Version", ""),
                        "url": f.get("InternalUrl", ""),
                    }
                )
            return out
        out["dialect"] = "B"
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if not sep:
                continue
            if key == "Server Version":
                out["server_version"] = value
            elif key == "Service Version":
                out["service_version"] = value
            elif key.startswith("download") and key != "downloads":
                url, ver, _stamp = (value.split(";") + ["", ""])[:3]
                out["files"].append({"name": url.rsplit("/", 1)[-1], "version": ver, "url": url})
        return out

    def boot(self, boot: int) -> bool:
        """Run one power-on; returns True when a download succeeded and a reboot should follow."""
        rec: dict[str, Any] = {"boot": boot, "reported_version": self.version}
        self.boots.append(rec)
        rec["lease"] = self.lease(boot)
        ip = rec["lease"]["ip"]
        rec["inform"] = self.inform(boot, ip)
        # An unanswered INFORM leaves the lease's option 15 as the only domain the phone has.
        domain = rec["inform"].get("domain") or rec["lease"].get("domain")
        servers = rec["inform"].get("dns") or [rec["lease"]["server_id"]]
        rec["dns"] = []
        if self.cfg.get("lpe"):
            if rec["inform"].get("ntp"):
                rec["ntp"] = self.ntp(rec["inform"]["ntp"][0], ip)
            if rec["inform"].get("option43"):
                signin = self.signin(boot, rec["inform"], servers[0], ip)
                rec["dns"].append(signin.pop("dns"))
                rec["signin"] = signin
                if "tls_failure" in signin or "error" in signin:
                    why = signin.get("tls_failure", {}).get("verify_message") or signin.get(
                        "error", signin.get("tls_failure", {}).get("error")
                    )
                    self.outcome = f"sign-in to {signin['url']} failed: {why}"
                    return False
        if not domain:
            self.outcome = "no option 15 domain; cannot build ucupdates-r2 name"
            return False
        name = f"ucupdates-r2.{domain}"
        answer = self.resolve(boot, name, servers[0], ip)
        rec["dns"].append(answer)
        if not answer.get("a"):
            self.outcome = f"{name} did not resolve ({answer['rcode']}); no check-in"
            return False
        body = self.request_xml()
        path = self.cfg["checkin_path"]
        if self.cfg.get("https"):
            try:
                tls = self.tls_socket(boot, answer["a"][0], 443, name, ip)
            except ssl.SSLError as exc:
                rec["tls_failure"] = {"host": name, "error": exc.reason or str(exc)}
                self.outcome = f"TLS handshake with {name} failed: {exc.reason or exc}"
                return False
            self.tls_seen = tls_info(tls)
            conn = http.client.HTTPConnection(answer["a"][0], 443, timeout=5)
            conn.sock = tls
        else:
            conn = http.client.HTTPConnection(answer["a"][0], 80, timeout=5, source_address=(ip, 0))
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Host": name,
                "User-Agent": self.user_agent(),
                "Content-Type": "text/xml",
                "Connection": "Keep-Alive",
            },
        )
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        rec["checkin"] = {
            "path": path,
            "status": resp.status,
            "host": name,
            "request_body_bytes": len(body),
            "response_body_bytes": len(payload),
        }
        if self.cfg.get("https"):
            rec["checkin"]["scheme"] = "https"
            rec["checkin"]["tls"] = self.tls_seen
        if resp.status != 200:
            self.outcome = f"check-in {path} answered {resp.status}"
            return False
        parsed = self.parse_response(payload)
        rec["checkin"].update(parsed)
        if not parsed["files"]:
            self.outcome = f"checked in on {self.version}; no update offered"
            return False
        rec["fetches"] = []
        ok = True
        conns: dict[str, http.client.HTTPConnection] = {}
        for f in parsed["files"]:
            url = urlsplit(f["url"])
            host = url.hostname or ""
            if host not in conns:
                ans = self.resolve(boot, host, servers[0], ip)
                rec["dns"].append(ans)
                if not ans.get("a"):
                    ok = False
                    self.outcome = f"file host {host} did not resolve"
                    break
                conns[host] = http.client.HTTPConnection(
                    ans["a"][0], url.port or 80, timeout=10, source_address=(ip, 0)
                )
            c = conns[host]
            status, data = self._get(c, host, url.path, self.user_agent())
            good = status == 200 and data == firmware_bytes(url.path)
            rec["fetches"].append({"path": url.path, "status": status, "bytes": len(data)})
            if not good:
                ok = False
                self.outcome = f"download of {url.path} failed with HTTP {status}"
                break
            # The seed's IIS log shows the phone asking for the file's folder right after it.
            folder = url.path.rsplit("/", 1)[0] + "/"
            fstatus, fdata = self._get(c, host, folder, self.user_agent())
            rec["fetches"].append({"path": folder, "status": fstatus, "bytes": len(fdata)})
            self.version = f["version"]
        for c in conns.values():
            c.close()
        return ok

    def tls_socket(self, boot: int, server: str, port: int, name: str, src: str) -> ssl.SSLSocket:
        """A TLS connection to ``server`` that validates ``name`` (sent as SNI).

        The phone trusts only the CA file it was given (the lab CA, or an unrelated one for the
        untrusted scenarios) and offers a few RSA and ECDHE suites up to TLS 1.2; it puts
        AES256-GCM-SHA384 first on its second boot so a capture holds both a CBC and a GCM
        connection. Its key log is what a real phone would never give you; the lab keeps it to
        test decryption with a key log.
        """
        https = self.cfg["https"]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        suites = ["AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256", "AES256-SHA"]
        if boot == 1:
            suites[0], suites[1] = suites[1], suites[0]
        ctx.set_ciphers(":".join(suites))
        ctx.load_verify_locations(https["ca_file"])
        ctx.keylog_filename = https["keylog"]
        raw = socket.create_connection((server, port), timeout=5, source_address=(src, 0))
        try:
            return ctx.wrap_socket(raw, server_hostname=name)
        except ssl.SSLError:
            raw.close()
            raise

    @staticmethod
    def _get(
        conn: http.client.HTTPConnection, host: str, path: str, agent: str
    ) -> tuple[int, bytes]:
        conn.request(
            "GET",
            path,
            headers={"Host": host, "User-Agent": agent, "Connection": "Keep-Alive"},
        )
        resp = conn.getresponse()
        return resp.status, resp.read()

    def run(self) -> dict[str, Any]:
        """Boot until no further update is applied (bounded), idling briefly between reboots."""
        subprocess.run(["ip", "addr", "flush", "dev", self.iface], check=True)
        error = None
        try:
            for boot in range(int(self.cfg.get("max_boots", 4))):
                if not self.boot(boot):
                    break
                # "Waits for five minutes of idle activity, and then restarts" - shortened.
                pause(float(self.cfg.get("idle_seconds", 1.0)))
                subprocess.run(["ip", "addr", "flush", "dev", self.iface], check=True)
                self.outcome = f"updated to {self.version}"
        except (OSError, TimeoutError, RuntimeError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        return {
            "name": self.cfg["name"],
            "mac": self.mac,
            "boots": self.boots,
            "final_version": self.version,
            "outcome": self.outcome,
            "error": error,
        }


def pause(seconds: float) -> None:
    """Sleep by ``select``: under libfaketime (the LPE phones' clock) ``time.sleep`` fails with
    EINVAL (libfaketime 0.9.10 and CPython's absolute clock_nanosleep)."""
    if seconds > 0:
        select.select([], [], [], seconds)


def tls_info(tls: ssl.SSLSocket) -> dict[str, Any]:
    """Version, suite and key exchange of an established connection, as the phone saw them."""
    cipher = tls.cipher()
    name = cipher[0] if cipher else ""
    kx = "ecdhe" if name.startswith("ECDHE") else "dhe" if name.startswith("DHE") else "rsa"
    return {"version": tls.version(), "cipher": name or None, "key_exchange": kx}


def main(argv: list[str] | None = None) -> int:
    """Entry point; writes the phone's own account of the run for the runner to check."""
    ap = argparse.ArgumentParser(prog="python -m lab.phone")
    ap.add_argument("--config", required=True, type=Path)
    args = ap.parse_args(argv)
    cfg = json.loads(args.config.read_text())
    pause(float(cfg.get("start_delay", 0.0)))
    result = Phone(cfg).run()
    Path(cfg["result_file"]).write_text(json.dumps(result, indent=2))
    return 0 if result["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
