"""IIS 7 stand-in hosting the OCS 2007 R2 Device Update web service (`python -m lab.iis`).

It reproduces what a phone sees from the Web Components server: the request handler that answers
check-ins, the DeviceUpdateFiles_Int store, and IIS's detailed error pages for the failure modes in
the seed (500.19 ACL problems, 403.4 SSL required, 404.0 missing vdir/file). It also writes an
IIS-style W3C log and a JSON audit log so the runner can record what was served as fact.
"""

from __future__ import annotations

import argparse
import json
import socketserver
import ssl
import sys
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.firmware import (
    INTERIM_THRESHOLD,
    INTERIM_TIMESTAMP,
    INTERIM_VERSION,
    firmware_bytes,
    version_lt,
)

INTERIM_PATH = "/DeviceUpdateFiles_Int/OCInterim/ENU/CPE.nbt"
W3C_LOG = "w3c.log"
W3C_FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "sc-status sc-substatus sc-win32-status time-taken"
)
AUDIT_LOG = "RequestHandlerAuditLog.log"
AUDIT_HEADER = (
    "Logging DateTime,User Name,User Host Address,Device Type,Request DateTime,Mac Address,"
    "Serial Number,Vendor,Model,Revision,Locale,"
    "Requested<FileName;Version;TimeStamp>[# Seperated for Multiple],"
    "Response<FileName;Version;TimeStamp>[# Seperated for Multiple]"
)
"""The seed's audit-log header, verbatim (spelling included)."""
CHECKIN_PATHS = ("/requesthandler/ucdevice.upx", "/requesthandlerext/ucdevice.upx")

_ERROR_TEMPLATE = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<title>IIS 7.0 Detailed Error - {code}.{sub} - {reason}</title>
</head>
<body>
<div id="header"><h1>Server Error in Application "DEFAULT WEB SITE"</h1></div>
<div id="server_version"><p>Internet Information Services 7.0</p></div>
<div id="content">
<div class="content-container">
 <fieldset><legend>Error Summary</legend>
  <h2>HTTP Error {code}.{sub} - {reason}</h2>
  <h3>{summary}</h3>
 </fieldset>
</div>
<div class="content-container">
 <fieldset><legend>Detailed Error Information</legend>
  <div id="details-left">
   <table border="0" cellpadding="0" cellspacing="0">
    <tr class="alt"><th>Module</th><td>{module}</td></tr>
    <tr><th>Notification</th><td>{notification}</td></tr>
    <tr class="alt"><th>Handler</th><td>{handler}</td></tr>
    <tr><th>Error Code</th><td>{error_code}</td></tr>
   </table>
  </div>
  <div id="details-right">
   <table border="0" cellpadding="0" cellspacing="0">
    <tr class="alt"><th>Requested URL</th><td>http://{host}:80{path}</td></tr>
    <tr><th>Physical Path</th><td>{physical}</td></tr>
    <tr class="alt"><th>Logon Method</th><td>Anonymous</td></tr>
    <tr><th>Logon User</th><td>Anonymous</td></tr>
   </table>
   <div class="clear"></div>
  </div>
 </fieldset>
</div>
</div>
</body>
</html>
"""

_ERRORS: dict[tuple[int, int], dict[str, str]] = {
    (500, 19): {
        "reason": "Internal Server Error",
        "summary": "The requested page cannot be accessed because the related configuration "
        "data for the page is invalid.",
        "module": "IIS Web Core",
        "notification": "Unknown",
        "handler": "Not yet determined",
        "error_code": "0x80070005",
    },
    (403, 4): {
        "reason": "Forbidden",
        "summary": "The page you are trying to access is secured with Secure Sockets Layer (SSL).",
        "module": "IIS Web Core",
        "notification": "BeginRequest",
        "handler": "StaticFile",
        "error_code": "0x80070005",
    },
    (404, 0): {
        "reason": "Not Found",
        "summary": "The resource you are looking for has been removed, had its name changed, "
        "or is temporarily unavailable.",
        "module": "IIS Web Core",
        "notification": "MapRequestHandler",
        "handler": "StaticFile",
        "error_code": "0x80070002",
    },
}

_BLANK_PAGE = b"<html><body></body></html>\r\n"
_SERVICE_PAGE = (
    b"<html><head><title>CertProvisioningService Service</title></head><body>"
    b"<h1>CertProvisioningService Service</h1><p>You have created a service.</p></body></html>\r\n"
)
_IISSTART = (
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN">\r\n<html><head>'
    b'<title>IIS7</title></head><body><div id="container"><img src="welcome.png" '
    b'alt="IIS7" width="571" height="411" /></div></body></html>\r\n'
)


def text_of(root: ET.Element, *names: str) -> str:
    """Find the first element or attribute among `names`, case-insensitively, anywhere."""
    wanted = {n.lower() for n in names}
    for el in root.iter():
        if el.tag.lower() in wanted and el.text:
            return el.text.strip()
        for key, value in el.attrib.items():
            if key.lower() in wanted:
                return value
    return ""


def parse_checkin(body: bytes) -> dict[str, str]:
    """Read either request dialect; the real schema is unpublished so both are lab inventions."""
    root = ET.fromstring(body)
    dialect = "B" if root.tag == "ucDeviceRequest" else "A"
    version = ""
    stamp = ""
    for el in root.iter():
        if el.tag in ("Module", "installed"):
            version = el.attrib.get("Version", el.attrib.get("ver", ""))
            stamp = el.attrib.get("TimeStamp", el.attrib.get("timestamp", ""))
            break
    return {
        "dialect": dialect,
        "device_type": text_of(root, "DeviceType", "device-type"),
        "mac": text_of(root, "MacAddress", "mac_address"),
        "serial": text_of(root, "SerialNumber", "serial"),
        "vendor": text_of(root, "Vendor", "brand"),
        "model": text_of(root, "Model", "model"),
        "revision": text_of(root, "Revision", "rev"),
        "locale": text_of(root, "Locale", "language"),
        "user": text_of(root, "UserName", "user"),
        "version": version,
        "timestamp": stamp,
    }


def audit_row(now: datetime, client: str, req: dict[str, str], files: list[dict[str, str]]) -> str:
    """One row of the audit log as the seed shows it (a Portuguese-culture server).

    Logging DateTime month first, Request DateTime and timestamps day first, the quoted
    MAC..Locale columns, ``FileName;Version;TimeStamp`` modules with the file URL as the name.
    """
    mac = "".join(ch for ch in req["mac"].upper() if ch.isalnum())
    quoted = ",".join(
        f'"{v}"' for v in (mac, req["serial"], req["vendor"], req["model"], req["revision"])
    )
    requested = f"cpe.nbt;{req['version']};{req.get('timestamp') or '01-01-1601 00:00:00'}"
    response = "#".join(f"{f['url']};{f['version']};{f['timestamp']}" for f in files)
    return (
        f"{now:%m-%d-%Y %H:%M:%S},{req['user']},{client},{req['device_type'] or 'UCPhone'},"
        f'{now:%d-%m-%Y %H:%M:%S},{quoted},"{req["locale"]}",{requested},{response}\r\n'
    )


class Site:
    """The server's configuration and decision rules, separate from HTTP plumbing."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.web = cfg["web_fqdn"]
        self.ext = cfg["ext_fqdn"]
        self.lock = threading.Lock()
        self.store: set[str] = set()
        if cfg.get("interim_available", True):
            self.store.add(INTERIM_PATH.lower())
        for vendor, model in cfg["catalog"]:
            for rev in ("A",):
                path = self.target_path(vendor, model, rev, "ENU")
                self.store.add(path.lower())
        for missing in cfg.get("missing_files", []):
            self.store.discard(missing.lower())
        self.dirs = {p.rsplit("/", 1)[0] + "/" for p in self.store}
        log_dir = Path(cfg["log_dir"])
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        (log_dir / W3C_LOG).write_text(
            "#Software: Microsoft Internet Information Services 7.0\r\n#Version: 1.0\r\n"
            f"#Date: {started}\r\n#Fields: {W3C_FIELDS}\r\n",
            encoding="utf-8",
            newline="",
        )
        (log_dir / AUDIT_LOG).write_text(AUDIT_HEADER + "\r\n", encoding="utf-8", newline="")

    def target_path(self, vendor: str, model: str, rev: str, locale: str) -> str:
        """Store layout from the seed: UCPhone/<Vendor>/<Model>/<Rev>/<Locale>/<Ver>/CPE/CPE.nbt."""
        ver = self.cfg["target_version"]
        return f"/DeviceUpdateFiles_Int/UCPhone/{vendor}/{model}/{rev}/{locale}/{ver}/CPE/CPE.nbt"

    def offer(self, req: dict[str, str]) -> list[dict[str, str]]:
        """Apply the update rules: interim below 1.0.522.98, else the target if catalogued."""
        if self.cfg.get("force_no_downloads"):
            return []
        version = req["version"] or "0.0.0.0"
        target = self.cfg["target_version"]
        if version_lt(version, INTERIM_THRESHOLD):
            path = INTERIM_PATH
            return [self._file(path, INTERIM_VERSION, INTERIM_TIMESTAMP)]
        catalogued = any(
            v.lower() == req["vendor"].lower() and m.lower() == req["model"].lower()
            for v, m in self.cfg["catalog"]
        )
        if catalogued and version_lt(version, target):
            path = self.target_path(req["vendor"], req["model"], req["revision"], req["locale"])
            return [self._file(path, target, self.cfg["target_timestamp"])]
        return []

    def _file(self, path: str, version: str, stamp: str) -> dict[str, str]:
        ext_path = path.replace("DeviceUpdateFiles_Int", "DeviceUpdateFiles_Ext")
        return {
            "name": "CPE.nbt",
            "version": version,
            "timestamp": stamp,
            "path": path,
            "url": f"http://{self.web}{path}",
            "external_url": f"https://{self.ext}{ext_path}",
        }

    def response_body(self, dialect: str, files: list[dict[str, str]]) -> tuple[bytes, dict]:
        """Render the check-in answer in dialect A (XML elements) or B (key=value text)."""
        ver = self.cfg["target_version"]
        internal = f"https://{self.web}/RequestHandler/ucdevice.upx"
        external = f"https://{self.ext}/RequestHandlerExt/ucdevice.upx"
        omit = bool(self.cfg.get("omit_versions"))
        meta = {
            "dialect": dialect,
            "server_version": None if omit else ver,
            "service_version": None if omit else ver,
            "internal_url": internal,
            "external_url": external,
            "files": files,
        }
        if dialect == "A":
            root = ET.Element("Response")
            if not omit:
                ET.SubElement(root, "ServerVersion").text = ver
                ET.SubElement(root, "ServiceVersion").text = ver
            ET.SubElement(root, "UpdatesServerInternalUrl").text = internal
            ET.SubElement(root, "UpdatesServerExternalUrl").text = external
            dl = ET.SubElement(root, "Downloads", Count=str(len(files)))
            for f in files:
                ET.SubElement(
                    dl,
                    "File",
                    Name=f["name"],
                    Version=f["version"],
                    TimeStamp=f["timestamp"],
                    InternalUrl=f["url"],
                    ExternalUrl=f["external_url"],
                )
            body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root)
            return body, meta
        lines = []
        if not omit:
            lines += [f"Server Version={ver}", f"Service Version={ver}"]
        lines += [f"UpdatesServerInternalUrl={internal}", f"UpdatesServerExternalUrl={external}"]
        lines.append(f"downloads={len(files)}")
        for i, f in enumerate(files, 1):
            lines.append(f"download{i}={f['url']};{f['version']};{f['timestamp']}")
        text = "\r\n".join(lines)
        return f'<?xml version="1.0" ?>\r\n<Response>\r\n{text}\r\n</Response>\r\n'.encode(), meta

    def fault_for(self, path: str) -> dict[str, int] | None:
        """Return the injected IIS failure for a file path, if any."""
        for fault in self.cfg.get("faults", []):
            if path.lower().startswith(fault["prefix"].lower()):
                return fault
        return None

    def log(self, name: str, record: dict[str, Any]) -> None:
        """Append a line to one of the server logs (serialised across handler threads)."""
        with self.lock, open(Path(self.cfg["log_dir"]) / name, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n" if name.endswith(".jsonl") else record["line"])


class Handler(BaseHTTPRequestHandler):
    """One HTTP/1.1 keep-alive connection from a phone or the background PC."""

    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/7.0"
    site: Site

    def version_string(self) -> str:
        """IIS sends exactly 'Microsoft-IIS/7.0' (the default appends the Python version)."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence stderr access logging; the W3C log below replaces it."""

    def _send(self, status: int, body: bytes, ctype: str, sub: int = 0, win32: int = 0) -> None:
        started = time.monotonic()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Powered-By", "ASP.NET")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        taken = int((time.monotonic() - started) * 1000)
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        ua = (self.headers.get("User-Agent") or "-").replace(" ", "+")
        stem = self.path.split("?", 1)[0]
        host, port = self.server.server_address[:2]
        line = (
            f"{now} {host} {self.command} {stem} - {port} - {self.client_address[0]} {ua} "
            f"{status} {sub} {win32} {taken}\r\n"
        )
        self.site.log(W3C_LOG, {"line": line})
        self.site.log(
            "requests.jsonl",
            {
                "client": self.client_address[0],
                "method": self.command,
                "path": stem,
                "host": self.headers.get("Host", ""),
                "status": status,
                "substatus": sub,
                "win32": win32,
                "bytes": len(body),
            },
        )

    def _error(self, status: int, sub: int, win32: int, physical: str = "") -> None:
        info = _ERRORS[(status, sub)]
        page = _ERROR_TEMPLATE.format(
            code=status,
            sub=sub,
            host=self.headers.get("Host", self.site.web),
            path=self.path,
            physical=physical or "C:\\inetpub\\wwwroot" + self.path.replace("/", "\\"),
            **info,
        )
        self._send(status, page.encode(), "text/html", sub, win32)

    def do_POST(self) -> None:
        """Check-in handler; any other POST target is a missing vdir (404.0)."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1_000_000))
        stem = self.path.split("?", 1)[0]
        if stem.lower() not in CHECKIN_PATHS:
            self._error(404, 0, 2)
            return
        req = parse_checkin(body)
        files = self.site.offer(req)
        dialect = self.site.cfg.get("response_dialect", "auto")
        if dialect == "auto":
            dialect = req["dialect"]
        out, meta = self.site.response_body(dialect, files)
        self.site.log(
            "audit.jsonl", {"client": self.client_address[0], "path": stem, "request": req, **meta}
        )
        row = audit_row(datetime.now(UTC), self.client_address[0], req, files)
        self.site.log(AUDIT_LOG, {"line": row})
        self._send(200, out, "text/xml; charset=utf-8")

    def do_GET(self) -> None:
        """Static file store with injected faults, plus a default page for background clients."""
        stem = self.path.split("?", 1)[0]
        low = stem.lower()
        if low in ("/", "/iisstart.htm"):
            self._send(200, _IISSTART, "text/html")
            return
        if low == self.site.cfg.get("cert_prov_path", "").lower():
            # A GET of a WCF .svc answers the service's help page; the certificate request
            # itself (SOAP after the user's PIN) is not emulated.
            self._send(200, _SERVICE_PAGE, "text/html; charset=UTF-8")
            return
        if low.startswith("/deviceupdatefiles_"):
            fault = self.site.fault_for(stem)
            if fault is not None:
                self._error(fault["status"], fault["substatus"], fault["win32"])
                return
            if low in self.site.store:
                self._send(200, firmware_bytes(stem), "application/octet-stream")
                return
            if low in self.site.dirs:
                self._send(200, _BLANK_PAGE, "text/html")
                return
        self._error(404, 0, 2)


class TlsSink(socketserver.BaseRequestHandler):
    """Port 443 listener for background traffic: reads a ClientHello, answers a fatal alert."""

    def handle(self) -> None:
        self.request.settimeout(3)
        try:
            self.request.recv(16384)
            self.request.sendall(bytes([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]))
        except OSError:
            return


class HttpsServer(ThreadingHTTPServer):
    """Port 443 for the HTTPS scenarios: the handshake runs in the connection's own thread.

    Wrapping the listening socket would run handshakes in the accept loop, where a phone that
    aborts the handshake (unknown_ca) would raise out of ``get_request``; here it only ends its
    own connection.
    """

    daemon_threads = True
    context: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS-wrap the accepted socket, then serve HTTP on it as usual."""
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(tls, client_address, self)


SERVER_CIPHERS = {"rsa": "AES128-SHA:AES256-GCM-SHA384", "ecdhe": "ECDHE-RSA-AES128-GCM-SHA256"}
"""The suites the server allows per key exchange (lab/scenarios.py: Scenario.tls_key_exchange)."""


def server_tls_context(cert: str, key: str, key_exchange: str = "rsa") -> ssl.SSLContext:
    """TLS 1.2 choosing in the client's order (see lab/scenarios.py).

    ``rsa``: no ECDHE/DHE suite is enabled, so the server's private key alone decrypts the
    capture, as with an OCS 2007 R2 server of the time. ``ecdhe``: only an ECDHE suite, so the
    key cannot (forward secrecy), as with a later Windows server that prefers ECDHE.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(SERVER_CIPHERS[key_exchange])
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.load_cert_chain(cert, key)
    return ctx


def main(argv: list[str] | None = None) -> int:
    """Serve until killed; the runner waits for the ready file before booting phones."""
    ap = argparse.ArgumentParser(prog="python -m lab.iis")
    ap.add_argument("--config", required=True, type=Path)
    args = ap.parse_args(argv)
    cfg = json.loads(args.config.read_text())
    site = Site(cfg)
    handler = type("BoundHandler", (Handler,), {"site": site})
    httpd = ThreadingHTTPServer((cfg["listen"], 80), handler)
    httpd.daemon_threads = True
    threads = [threading.Thread(target=httpd.serve_forever, daemon=True)]
    if cfg.get("https"):
        https = HttpsServer((cfg["listen"], 443), handler)
        https.context = server_tls_context(
            cfg["https"]["cert"], cfg["https"]["key"], cfg["https"].get("key_exchange", "rsa")
        )
        threads.append(threading.Thread(target=https.serve_forever, daemon=True))
    if cfg.get("tls_sink"):
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        tls = socketserver.ThreadingTCPServer((cfg["listen"], 443), TlsSink)
        tls.daemon_threads = True
        threads.append(threading.Thread(target=tls.serve_forever, daemon=True))
    for t in threads:
        t.start()
    Path(cfg["ready_file"]).write_text("ready\n")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
