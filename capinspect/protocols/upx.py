"""The Device Update check-in: ``POST …/ucdevice.upx`` and the service's answer.

Nothing public names the XML elements of this exchange (protocol.md §3.2, §3.3, §8): only the
semantic fields are documented (the audit-log schema: device type, MAC, serial, vendor, model,
revision, locale, modules, user) and the seed quotes fragments of answers ("downloads=0",
"Server Version", "Service Version",
``UpdatesServerInternalUrl=https://poolname.domainname/RequestHandler/ucdevice.upx``). So this
module does not expect a schema. It collects every (path, value) pair the body holds — element
text, attributes, ``key=value`` / ``Key: value`` lines inside elements, form fields, plain text
lines — and then recognises fields by their *normalised* name (lower-cased, non-alphanumerics
removed: ``Mac-Address``, ``mac_address`` and ``{urn:x}MacAddress`` all become ``macaddress``)
against a synonym table. docs/checkin-format.md lists what is accepted.

Bodies come from the wire, so parsing is defensive: defusedxml refuses DTDs, entities and
external references (no billion laughs, no XXE); size, depth and field count are capped by
``Limits``; every problem becomes a line in ``problems``; nothing raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote_plus
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from capinspect.knowledge.phone import is_checkin_path as is_checkin_path
from capinspect.limits import DEFAULT_LIMITS, Limits
from capinspect.protocols.checkin import CheckinRequest, CheckinResponse, FirmwareModule

# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------


def checkin_path_kind(path: str) -> str:
    """Which handler a check-in path names.

    ``RequestHandler`` (internal, protocol.md §3.1), ``RequestHandlerExt`` (external),
    ``UCDeviceUpdates`` (what firmware 1.0.452.0 asks for: seed step 10 and comment 11), or
    ``other``.
    """
    segments = [part.lower() for part in path.split("?", 1)[0].split("/") if part]
    if not segments or not segments[-1].endswith("ucdevice.upx"):
        return "other"
    parent = segments[-2] if len(segments) >= 2 else ""
    return {
        "requesthandler": "RequestHandler",
        "requesthandlerext": "RequestHandlerExt",
        "ucdeviceupdates": "UCDeviceUpdates",
    }.get(parent, "other")


# ---------------------------------------------------------------------------------------------
# Synonyms (normalised names), strongest first
# ---------------------------------------------------------------------------------------------

DEVICE_TYPE = ("devicetype", "type")
MAC = ("macaddress", "mac")
SERIAL = ("serialnumber", "serial", "sn")
VENDOR = ("vendor", "brand", "manufacturer")
MODEL = ("model",)
REVISION = ("revision", "rev", "hwrevision")
LOCALE = ("locale", "language", "lang")
USER = ("username", "user", "userid", "sipuri")
SERVER_VERSION = ("serverversion",)
SERVICE_VERSION = ("serviceversion",)
DOWNLOADS = ("downloads", "downloadcount", "numdownloads", "numberofdownloads")
INTERNAL_UPDATE_URL = (
    "updatesserverinternalurl",
    "updateserverinternalurl",
    "internalupdateurl",
    "internalupdatesurl",
    "updatesinternalurl",
    "internalupdatesdownloadurl",
    "internalurl",
)
EXTERNAL_UPDATE_URL = (
    "updatesserverexternalurl",
    "updateserverexternalurl",
    "externalupdateurl",
    "externalupdatesurl",
    "updatesexternalurl",
    "externalupdatesdownloadurl",
    "externalurl",
)
# Inside one module / offered-file record:
FILE_NAME = ("filename", "file", "name", "modulename")
VERSION = ("version", "ver", "fileversion", "moduleversion")
TIMESTAMP = ("timestamp", "time", "date", "datetime")
URL = ("url", "href", "uri", "link", "location", "downloadurl", "fileurl")
FILE_INTERNAL_URL = ("internalurl", "internaldownloadurl", "urlinternal")
FILE_EXTERNAL_URL = ("externalurl", "externaldownloadurl", "urlexternal")
MODULE_TAGS = ("module", "file", "component", "installed", "requestmodule", "responsemodule")
DOWNLOAD_CONTAINERS = ("downloads", "files", "updates", "modules")
FIRMWARE_SUFFIXES = (".nbt", ".cat", ".xml")

_RECORD_KEYS = FILE_NAME + VERSION + TIMESTAMP + URL + FILE_INTERNAL_URL + FILE_EXTERNAL_URL
_KEY_VALUE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 _.\-]{0,63}?)\s*(?:=|:(?=\s))\s*(.*?)\s*$")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


@lru_cache(maxsize=2048)
def normalise(name: str) -> str:
    """``Mac-Address`` → ``macaddress``; a namespace (``{urn:x}`` or ``ns:``) is dropped.

    Remembered: a check-in's few dozen element and key names recur in every check-in, and
    normalising them character by character was a third of parsing one."""
    if name.startswith("{"):
        name = name.rsplit("}", 1)[-1]
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _local(tag: str) -> str:
    tag = tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag
    return tag.rsplit(":", 1)[-1]


# ---------------------------------------------------------------------------------------------
# Collection: body → (path, value) pairs plus record candidates
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Record:
    """An element that looks like one module / offered file: its own key → value props."""

    tag: str
    parent: str
    props: dict[str, str]
    paths: set[str]


@dataclass(slots=True)
class _Collected:
    fields: list[tuple[str, str]] = field(default_factory=list)
    records: list[_Record] = field(default_factory=list)
    containers: dict[str, int] = field(default_factory=dict)
    """Normalised container tag (``downloads``) → number of records found directly inside."""
    problems: list[str] = field(default_factory=list)
    full: bool = False


class _Collector:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.out = _Collected()

    def add(self, path: str, value: str) -> bool:
        if self.out.full:
            return False
        if len(self.out.fields) >= self.limits.max_xml_fields:
            self.out.full = True
            self.out.problems.append(
                f"more than {self.limits.max_xml_fields} fields; the rest were not read"
            )
            return False
        self.out.fields.append((path, value))
        return True

    def add_text(self, prefix: str, text: str) -> dict[str, str]:
        """Element or body text: ``key=value`` lines when it has them, else the text itself."""
        props: dict[str, str] = {}
        pairs = _text_pairs(text)
        if pairs:
            for key, value in pairs:
                path = f"{prefix}/{key}" if prefix else key
                if self.add(path, value):
                    props.setdefault(normalise(key), value)
        elif prefix and text.strip():
            self.add(prefix, text.strip())
        return props

    def walk(self, root: Element) -> None:
        # Iterative walk: a deep document must not exhaust Python's stack.
        stack: list[tuple[Element, str, int, str]] = [(root, _local(root.tag), 1, "")]
        too_deep = False
        while stack and not self.out.full:
            element, path, depth, parent = stack.pop()
            if depth > self.limits.max_xml_depth:
                too_deep = True
                continue
            props: dict[str, str] = {}
            paths: set[str] = set()
            for name, value in element.attrib.items():
                attr_path = f"{path}@{_local(name)}"
                if self.add(attr_path, value):
                    props.setdefault(normalise(name), value)
                    paths.add(attr_path)
            children = list(element)
            text = (element.text or "").strip()
            if text:
                if children:
                    self.add_text(path, text)
                else:
                    text_props = self.add_text(path, text)
                    if not text_props:
                        paths.add(path)
            leaf_paths: set[str] = set()
            for child in children:
                if len(child) == 0 and not child.attrib and (child.text or "").strip():
                    # A leaf child is one of this element's properties too.
                    props.setdefault(normalise(child.tag), (child.text or "").strip())
                    leaf_paths.add(f"{path}/{_local(child.tag)}")
            tag = normalise(element.tag)
            if _looks_like_record(tag, props):
                self.out.records.append(_Record(tag, parent, props, paths | leaf_paths))
                if parent:
                    self.out.containers[parent] = self.out.containers.get(parent, 0) + 1
            elif tag in DOWNLOAD_CONTAINERS:
                self.out.containers.setdefault(tag, 0)
            for child in reversed(children):
                stack.append((child, f"{path}/{_local(child.tag)}", depth + 1, tag))
        if too_deep:
            self.out.problems.append(
                f"XML nested deeper than {self.limits.max_xml_depth} levels; deeper parts ignored"
            )


def _text_pairs(text: str) -> list[tuple[str, str]]:
    """``key=value`` / ``Key: value`` lines, or one ``a=b&c=d`` form line."""
    lines = [line for line in text.replace("\r", "\n").split("\n") if line.strip()]
    if len(lines) == 1 and "&" in lines[0] and "=" in lines[0] and " " not in lines[0].strip():
        pairs = []
        for part in lines[0].strip().split("&"):
            key, equals, value = part.partition("=")
            if equals and key:
                pairs.append((unquote_plus(key), unquote_plus(value)))
        return pairs
    pairs = []
    for line in lines:
        match = _KEY_VALUE.match(line)
        if match is None:
            return []  # prose or a bare value, not a key/value block
        pairs.append((match.group(1).strip(), match.group(2)))
    return pairs


def _looks_like_record(tag: str, props: dict[str, str]) -> bool:
    keys = set(props)
    has_name = bool(keys.intersection(FILE_NAME))
    has_detail = bool(keys.intersection(VERSION + TIMESTAMP))
    has_url = bool(keys.intersection(URL + FILE_INTERNAL_URL + FILE_EXTERNAL_URL))
    if tag in MODULE_TAGS and (has_name or has_detail or has_url):
        return True
    if has_name and (has_detail or has_url):
        return True
    return any(
        props[key].lower().split("?", 1)[0].endswith(FIRMWARE_SUFFIXES)
        for key in keys.intersection(URL + FILE_INTERNAL_URL + FILE_EXTERNAL_URL)
    )


def _decode(body: bytes) -> tuple[str, str | None]:
    """Text of the body: BOM first, then UTF-8, then latin-1 (which never fails)."""
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", "replace"), None
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body.decode("utf-16", "replace"), None
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        return body.decode("latin-1"), "not UTF-8: read as latin-1"


def _collect(body: bytes, limits: Limits) -> _Collected:
    collector = _Collector(limits)
    problems = collector.out.problems
    if len(body) > limits.max_xml_bytes:
        problems.append(f"body is {len(body)} bytes, over the {limits.max_xml_bytes}-byte limit")
        return collector.out
    text, note = _decode(body)
    if not text.strip():
        problems.append("empty body")
        return collector.out
    if text.lstrip().startswith("<"):
        root = _parse_xml(body, text, problems)
        if root is not None:
            if note:
                problems.append(note)
            collector.walk(root)
        return collector.out
    if note:
        problems.append(note)
    if not collector.add_text("", text):
        if not collector.out.fields:
            problems.append("neither XML nor key=value text")
    return collector.out


def _parse_xml(body: bytes, text: str, problems: list[str]) -> Element | None:
    """Parse with every expansion forbidden; retry once from the decoded text, for bodies whose
    bytes do not match their declared encoding."""
    last = "not well-formed XML"
    for attempt in (body, _XML_DECLARATION.sub("", text, count=1)):
        try:
            return fromstring(attempt, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        except DefusedXmlException as error:
            problems.append(f"unsafe XML refused ({type(error).__name__}): nothing expanded")
            return None
        except (ParseError, ValueError, LookupError) as error:
            last = f"not well-formed XML: {error}"
            if isinstance(attempt, str) and isinstance(error, ParseError):
                root = _before_trailing_bytes(attempt, error, problems)
                if root is not None:
                    return root
        except RecursionError:
            last = "XML too deeply nested to parse"
    problems.append(last)
    return None


_NEWLINE = re.compile(r"\r\n|\r|\n")


def _before_trailing_bytes(text: str, error: ParseError, problems: list[str]) -> Element | None:
    """The document when ``error`` lies after its root element closed (a NUL terminator,
    padding, a second body): parsed again up to where the error is, the rest noted."""
    line, column = error.position  # expat: 1-based line, 0-based column in characters
    starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
    if not 1 <= line <= len(starts):
        return None
    offset = starts[line - 1] + column
    head = text[:offset]
    if offset >= len(text) or not head.rstrip().endswith(">"):
        return None
    try:
        root = fromstring(head, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError, LookupError, RecursionError):
        return None
    extra = len(text) - offset
    problems.append(
        f"{extra} character{'' if extra == 1 else 's'} after the XML document ignored "
        f"(line {line}, column {column})"
    )
    return root


# ---------------------------------------------------------------------------------------------
# Interpretation
# ---------------------------------------------------------------------------------------------


def _leaf(path: str) -> str:
    return normalise(re.split(r"[/@]", path)[-1])


def _pick(
    fields: Iterable[tuple[str, str]], synonyms: tuple[str, ...], skip: set[str]
) -> str | None:
    """The first value whose name is the strongest synonym present (document order breaks ties)."""
    candidates = [(path, value) for path, value in fields if path not in skip and value.strip()]
    for synonym in synonyms:
        for path, value in candidates:
            if _leaf(path) == synonym:
                return value.strip()
    return None


def _module(props: dict[str, str]) -> FirmwareModule:
    def get(keys: tuple[str, ...]) -> str | None:
        for key in keys:
            if props.get(key, "").strip():
                return props[key].strip()
        return None

    url = get(URL)
    internal = get(FILE_INTERNAL_URL)
    external = get(FILE_EXTERNAL_URL)
    name = get(FILE_NAME)
    if name is None:
        # Offered files may carry only a URL: its last segment is the file name.
        for candidate in (url, internal, external):
            if candidate:
                name = candidate.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or None
                break
    return FirmwareModule(
        file_name=name,
        version=get(VERSION),
        timestamp=get(TIMESTAMP),
        url=url,
        internal_url=internal,
        external_url=external,
    )


def _record_paths(collected: _Collected) -> set[str]:
    return {path for record in collected.records for path in record.paths}


def parse_checkin_request(body: bytes, limits: Limits = DEFAULT_LIMITS) -> CheckinRequest:
    """What the phone said about itself; never raises (problems are in ``problems``)."""
    try:
        collected = _collect(body, limits)
    except Exception as error:  # a body must never break the analysis
        return CheckinRequest(problems=(f"unreadable body: {type(error).__name__}",))
    fields = collected.fields
    skip = _record_paths(collected)
    return CheckinRequest(
        device_type=_pick(fields, DEVICE_TYPE, skip),
        mac=_pick(fields, MAC, skip),
        serial=_pick(fields, SERIAL, skip),
        vendor=_pick(fields, VENDOR, skip),
        model=_pick(fields, MODEL, skip),
        revision=_pick(fields, REVISION, skip),
        locale=_pick(fields, LOCALE, skip),
        user=_pick(fields, USER, skip),
        modules=tuple(_module(record.props) for record in collected.records),
        fields=tuple(fields),
        problems=tuple(collected.problems),
    )


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def parse_checkin_response(body: bytes, limits: Limits = DEFAULT_LIMITS) -> CheckinResponse:
    """What the Device Update Service answered; never raises (problems are in ``problems``)."""
    try:
        collected = _collect(body, limits)
    except Exception as error:  # a body must never break the analysis
        return CheckinResponse(problems=(f"unreadable body: {type(error).__name__}",))
    fields = collected.fields
    skip = _record_paths(collected)
    files = tuple(_module(record.props) for record in collected.records)
    downloads = _count(_pick(fields, DOWNLOADS, skip))
    if downloads is None:
        # A count attribute on a Downloads/Files element: <Downloads Count="1">.
        for path, value in fields:
            parts = re.split(r"[/@]", path)
            if len(parts) >= 2 and normalise(parts[-1]) == "count":
                if normalise(parts[-2]) in DOWNLOAD_CONTAINERS and _count(value) is not None:
                    downloads = _count(value)
                    break
    if downloads is None:
        listed = [
            count for tag, count in collected.containers.items() if tag in DOWNLOAD_CONTAINERS
        ]
        if listed:
            downloads = sum(listed)
    return CheckinResponse(
        server_version=_pick(fields, SERVER_VERSION, skip),
        service_version=_pick(fields, SERVICE_VERSION, skip),
        downloads=downloads,
        internal_update_url=_pick(fields, INTERNAL_UPDATE_URL, skip),
        external_update_url=_pick(fields, EXTERNAL_UPDATE_URL, skip),
        files=files,
        fields=tuple(fields),
        problems=tuple(collected.problems),
    )
