"""IIS sub-status and Win32 status meanings: what an IIS log line or error page is telling you.

An IIS log line ends ``sc-status sc-substatus sc-win32-status time-taken``; the failing download in
the Device Update troubleshooting article is ``… 500 19 5 62`` (500.19, Win32 error 5 = access
denied) and its fix is the shared folder's ACL. A capture shows the same facts in the error page
body ("HTTP Error 500.19 - Internal Server Error", "Error Code 0x80070005"), which
capinspect/protocols/http/iis.py reads.

Sources, cited per entry:
* [KB943891] Microsoft, "The HTTP status code in IIS 7.0 and later versions" (KB 943891), as
  quoted on Microsoft Q&A (the 403.x list confirmed there; the rest as published in the KB).
* [IIS6] IIS 6.0 SDK "CustomErrorDescriptions", for the IIS 6 style wording.
* [ARTICLE] Rui Silva, "Troubleshooting OCS 2007 R2 Device Update Service for Communicator Phone
  Edition" (2009): troubleshooting step 5, and its readers' comments on SSL required on
  DeviceUpdateFiles_Int.
* [WIN32] Windows system error codes (winerror.h); the IIS log's sc-win32-status column.
"""

from __future__ import annotations

IIS_SUBSTATUS: dict[str, str] = {
    # 400 — [KB943891]
    "400": "bad request: the server could not understand the request",
    # 401.x — [KB943891]
    "401.1": "logon failed (bad user name or password)",
    "401.2": "logon failed due to server configuration (no authentication method matches)",
    "401.3": "unauthorized due to an ACL on the requested resource",
    "401.4": "authorization failed by a filter",
    "401.5": "authorization failed by an ISAPI/CGI application",
    # 403.x — [KB943891] (403.4/7/13/16/17 confirmed in the Microsoft Q&A quote)
    "403.1": "execute access forbidden",
    "403.2": "read access forbidden",
    "403.3": "write access forbidden",
    "403.4": (
        "SSL required: the virtual directory requires HTTPS and the request came over HTTP "
        "(a reader of the Device Update troubleshooting article fixed it by unticking "
        "'Require SSL' on DeviceUpdateFiles_Int)"
    ),
    "403.5": "SSL 128 required",
    "403.6": "IP address rejected",
    "403.7": "client certificate required",
    "403.8": "site access denied (DNS name restriction)",
    "403.9": "forbidden: too many clients are trying to connect",
    "403.10": "forbidden: web server is configured to deny Execute access",
    "403.11": "forbidden: password has been changed",
    "403.12": "mapper denied access (client certificate mapping)",
    "403.13": "client certificate revoked",
    "403.14": "directory listing denied (no default document and browsing disabled)",
    "403.15": "forbidden: client access licenses have exceeded limits",
    "403.16": "client certificate is untrusted or invalid",
    "403.17": "client certificate has expired or is not yet valid",
    "403.18": "cannot execute the requested URL in the current application pool",
    "403.19": "cannot execute CGI applications for this client in this application pool",
    "403.20": "forbidden: Passport logon failed",
    # 404.x — [KB943891]
    "404.0": "not found: the file or directory does not exist on the server",
    "404.1": "site not found (no site bound to this host/port)",
    "404.2": "ISAPI or CGI restriction: the extension is not allowed",
    "404.3": "MIME map policy prevents this request (no MIME type for the file extension)",
    "404.4": "no handler configured for this request",
    "404.5": "denied by request filtering: URL sequence denied",
    "404.6": "denied by request filtering: verb denied",
    "404.7": "denied by request filtering: file extension denied",
    "404.8": "denied by request filtering: hidden namespace (e.g. /bin, App_Data)",
    "404.9": "file attribute hidden",
    "404.10": "denied by request filtering: request header too long",
    "404.11": "denied by request filtering: URL contains a double escape sequence",
    "404.12": "denied by request filtering: URL contains high-bit characters",
    "404.13": "denied by request filtering: content length too large",
    "404.14": "denied by request filtering: URL too long",
    "404.15": "denied by request filtering: query string too long",
    "404.16": "DAV request sent to the static file handler",
    "404.17": "dynamic content mapped to the static file handler via a wildcard MIME mapping",
    "404.18": "query string sequence denied",
    "404.19": "denied by filtering rule",
    "404.20": "too many URL segments",
    # 500.x — [KB943891]
    "500.0": "module or ISAPI error occurred",
    "500.19": (
        "configuration data is invalid: IIS could not read the configuration (web.config); "
        "for DeviceUpdateFiles this is commonly the shared folder's ACL — the '500 19 5' line "
        "of the Device Update troubleshooting article, fixed by granting Everyone read on the "
        "share (its step 5)"
    ),
    "500.21": "module not recognized",
    "500.22": "an ASP.NET httpModules configuration does not apply in Managed Pipeline mode",
    "500.23": "an ASP.NET httpHandlers configuration does not apply in Managed Pipeline mode",
    "500.24": "an ASP.NET impersonation configuration does not apply in Managed Pipeline mode",
    # 502.x — [KB943891]
    "502.1": "CGI application timeout",
    "502.2": "bad gateway: premature exit of the CGI/ISAPI process",
    "502.3": "bad gateway: forwarder connection error (ARR)",
    "502.4": "bad gateway: no server is available to handle the request (ARR)",
    # 503 — [KB943891]
    "503": "service unavailable: the application pool is stopped or the queue is full",
    "503.0": "application pool unavailable",
    "503.2": "concurrent request limit exceeded",
}
"""``"<status>.<substatus>"`` (or bare ``"<status>"``) → meaning."""

WIN32_STATUS: dict[int, str] = {
    0: "success",  # [WIN32] ERROR_SUCCESS
    2: "file not found (ERROR_FILE_NOT_FOUND)",  # [WIN32]; a reader's "404 0 2" [ARTICLE]
    3: "path not found (ERROR_PATH_NOT_FOUND)",  # [WIN32]
    # [WIN32]; the article's "500 19 5"
    5: "access denied (ERROR_ACCESS_DENIED): check the folder/share ACL",
    64: "the network name is no longer available: the client went away",  # [WIN32]
    121: "the semaphore timeout period has expired: the connection timed out",  # [WIN32]
    1236: "the connection was aborted by the local system (ERROR_CONNECTION_ABORTED)",  # [WIN32]
}
"""IIS log ``sc-win32-status`` values most often seen with failed downloads."""

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def describe_iis(status: int, substatus: str | None) -> str:
    """One line for a report: ``HTTP 500.19 Internal Server Error — configuration data …``.

    ``substatus`` is ``"500.19"`` as read from an error page (or ``None``); without one, the
    bare status (or its ``.0`` entry) is described.
    """
    reason = _REASONS.get(status, "")
    if substatus is not None and substatus.split(".", 1)[0] == str(status):
        label = f"HTTP {substatus}"
        meaning = IIS_SUBSTATUS.get(substatus)
    else:
        label = f"HTTP {status}"
        meaning = IIS_SUBSTATUS.get(str(status)) or IIS_SUBSTATUS.get(f"{status}.0")
    text = f"{label} {reason}".rstrip()
    return f"{text} — {meaning}" if meaning else text
