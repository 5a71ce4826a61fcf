"""WinInet error codes (12001–12175): the first half of a phone's "Last Update Status".

The Device Update troubleshooting article (step 9) says the About screen shows ``Last Update Status:
(0x####/0x#####)``, "the normal state should be 0x00/0 or 0x0/200", and "the first field is a
WinInet error code". That the second field is the HTTP status of the last check-in is inferred from
``0x0/200`` (the field format itself is published nowhere).

Numbers and symbols: Wine ``include/wininet.h`` and Microsoft ``inetmsg.mc`` (its 12106 for
INVALID_OPERATION is a typo for 12016); 12053–12056 and 12172–12175 from ``wininet.h`` and code that
defines them. Meanings are short paraphrases of the message texts.
"""

from __future__ import annotations

from typing import NamedTuple


class WinInetError(NamedTuple):
    code: int
    symbol: str
    meaning: str


WININET_ERRORS: dict[int, WinInetError] = {
    12001: WinInetError(
        12001, "ERROR_INTERNET_OUT_OF_HANDLES", "no more Internet handles can be allocated"
    ),
    12002: WinInetError(12002, "ERROR_INTERNET_TIMEOUT", "the operation timed out"),
    12003: WinInetError(
        12003, "ERROR_INTERNET_EXTENDED_ERROR", "the server returned extended information"
    ),
    12004: WinInetError(
        12004, "ERROR_INTERNET_INTERNAL_ERROR", "an internal error occurred in WinInet"
    ),
    12005: WinInetError(12005, "ERROR_INTERNET_INVALID_URL", "the URL is invalid"),
    12006: WinInetError(
        12006, "ERROR_INTERNET_UNRECOGNIZED_SCHEME", "the URL does not use a recognised protocol"
    ),
    12007: WinInetError(
        12007, "ERROR_INTERNET_NAME_NOT_RESOLVED", "the server name could not be resolved (DNS)"
    ),
    12008: WinInetError(
        12008,
        "ERROR_INTERNET_PROTOCOL_NOT_FOUND",
        "no protocol with the required capabilities was found",
    ),
    12009: WinInetError(12009, "ERROR_INTERNET_INVALID_OPTION", "the option is invalid"),
    12010: WinInetError(
        12010, "ERROR_INTERNET_BAD_OPTION_LENGTH", "the length is incorrect for the option type"
    ),
    12011: WinInetError(
        12011, "ERROR_INTERNET_OPTION_NOT_SETTABLE", "the option value cannot be set"
    ),
    12012: WinInetError(12012, "ERROR_INTERNET_SHUTDOWN", "WinInet support has been shut down"),
    12013: WinInetError(
        12013, "ERROR_INTERNET_INCORRECT_USER_NAME", "the user name was not allowed"
    ),
    12014: WinInetError(12014, "ERROR_INTERNET_INCORRECT_PASSWORD", "the password was not allowed"),
    12015: WinInetError(12015, "ERROR_INTERNET_LOGIN_FAILURE", "the login request was denied"),
    12016: WinInetError(
        12016, "ERROR_INTERNET_INVALID_OPERATION", "the requested operation is invalid"
    ),
    12017: WinInetError(12017, "ERROR_INTERNET_OPERATION_CANCELLED", "the operation was cancelled"),
    12018: WinInetError(
        12018,
        "ERROR_INTERNET_INCORRECT_HANDLE_TYPE",
        "the handle is the wrong type for the operation",
    ),
    12019: WinInetError(
        12019,
        "ERROR_INTERNET_INCORRECT_HANDLE_STATE",
        "the handle is in the wrong state for the operation",
    ),
    12020: WinInetError(
        12020, "ERROR_INTERNET_NOT_PROXY_REQUEST", "the request cannot be made on a proxy session"
    ),
    12021: WinInetError(
        12021, "ERROR_INTERNET_REGISTRY_VALUE_NOT_FOUND", "a registry value could not be found"
    ),
    12022: WinInetError(
        12022, "ERROR_INTERNET_BAD_REGISTRY_PARAMETER", "a registry parameter is incorrect"
    ),
    12023: WinInetError(
        12023, "ERROR_INTERNET_NO_DIRECT_ACCESS", "direct Internet access is not available"
    ),
    12024: WinInetError(12024, "ERROR_INTERNET_NO_CONTEXT", "no context value was supplied"),
    12025: WinInetError(12025, "ERROR_INTERNET_NO_CALLBACK", "no status callback was supplied"),
    12026: WinInetError(12026, "ERROR_INTERNET_REQUEST_PENDING", "there are outstanding requests"),
    12027: WinInetError(
        12027, "ERROR_INTERNET_INCORRECT_FORMAT", "the information format is incorrect"
    ),
    12028: WinInetError(
        12028, "ERROR_INTERNET_ITEM_NOT_FOUND", "the requested item could not be found"
    ),
    12029: WinInetError(
        12029,
        "ERROR_INTERNET_CANNOT_CONNECT",
        "a TCP connection to the server could not be established",
    ),
    12030: WinInetError(
        12030,
        "ERROR_INTERNET_CONNECTION_ABORTED",
        "the connection with the server was terminated abnormally",
    ),
    12031: WinInetError(
        12031, "ERROR_INTERNET_CONNECTION_RESET", "the connection with the server was reset"
    ),
    12032: WinInetError(12032, "ERROR_INTERNET_FORCE_RETRY", "the action must be retried"),
    12033: WinInetError(
        12033, "ERROR_INTERNET_INVALID_PROXY_REQUEST", "the proxy request is invalid"
    ),
    12034: WinInetError(12034, "ERROR_INTERNET_NEED_UI", "user interaction is required"),
    12036: WinInetError(12036, "ERROR_INTERNET_HANDLE_EXISTS", "the handle already exists"),
    12037: WinInetError(
        12037,
        "ERROR_INTERNET_SEC_CERT_DATE_INVALID",
        "the server certificate has expired or is not yet valid (check the phone's clock)",
    ),
    12038: WinInetError(
        12038,
        "ERROR_INTERNET_SEC_CERT_CN_INVALID",
        "the host name is not in the server certificate (e.g. ucupdates-r2.<domain> missing)",
    ),
    12039: WinInetError(
        12039,
        "ERROR_HTTP_TO_HTTPS_ON_REDIR",
        "a redirect changes a non-secure connection to a secure one",
    ),
    12040: WinInetError(
        12040,
        "ERROR_INTERNET_HTTPS_TO_HTTP_ON_REDIR",
        "a redirect changes a secure connection to a non-secure one",
    ),
    12041: WinInetError(
        12041, "ERROR_INTERNET_MIXED_SECURITY", "mixed secure and non-secure connections"
    ),
    12042: WinInetError(
        12042, "ERROR_INTERNET_CHG_POST_IS_NON_SECURE", "changing to a non-secure post"
    ),
    12043: WinInetError(
        12043,
        "ERROR_INTERNET_POST_IS_NON_SECURE",
        "data is being posted on a non-secure connection",
    ),
    12044: WinInetError(
        12044, "ERROR_INTERNET_CLIENT_AUTH_CERT_NEEDED", "the server asks for a client certificate"
    ),
    12045: WinInetError(
        12045,
        "ERROR_INTERNET_INVALID_CA",
        "the server certificate's CA is not trusted by the phone",
    ),
    12046: WinInetError(
        12046, "ERROR_INTERNET_CLIENT_AUTH_NOT_SETUP", "client authentication is not set up"
    ),
    12047: WinInetError(
        12047,
        "ERROR_INTERNET_ASYNC_THREAD_FAILED",
        "an error occurred in a WinInet asynchronous thread",
    ),
    12048: WinInetError(
        12048,
        "ERROR_INTERNET_REDIRECT_SCHEME_CHANGE",
        "the protocol scheme changed during a redirect",
    ),
    12049: WinInetError(
        12049, "ERROR_INTERNET_DIALOG_PENDING", "there are operations awaiting retry"
    ),
    12050: WinInetError(12050, "ERROR_INTERNET_RETRY_DIALOG", "the operation must be retried"),
    12051: WinInetError(
        12051, "ERROR_INTERNET_NO_NEW_CONTAINERS", "there are no new cache containers"
    ),
    12052: WinInetError(
        12052,
        "ERROR_INTERNET_HTTPS_HTTP_SUBMIT_REDIR",
        "a security zone check says the operation must be retried",
    ),
    12053: WinInetError(12053, "ERROR_INTERNET_INSERT_CDROM", "insert the CD-ROM"),
    12054: WinInetError(
        12054, "ERROR_INTERNET_FORTEZZA_LOGIN_NEEDED", "a Fortezza login is needed"
    ),
    12055: WinInetError(
        12055, "ERROR_INTERNET_SEC_CERT_ERRORS", "the server certificate has errors"
    ),
    12056: WinInetError(
        12056,
        "ERROR_INTERNET_SEC_CERT_NO_REV",
        "the server certificate's revocation cannot be checked",
    ),
    12110: WinInetError(
        12110, "ERROR_FTP_TRANSFER_IN_PROGRESS", "an FTP request is already in progress"
    ),
    12111: WinInetError(12111, "ERROR_FTP_DROPPED", "the FTP session was terminated"),
    12112: WinInetError(12112, "ERROR_FTP_NO_PASSIVE_MODE", "FTP passive mode is not available"),
    12130: WinInetError(12130, "ERROR_GOPHER_PROTOCOL_ERROR", "a gopher protocol error occurred"),
    12150: WinInetError(
        12150, "ERROR_HTTP_HEADER_NOT_FOUND", "the requested HTTP header was not found"
    ),
    12151: WinInetError(
        12151,
        "ERROR_HTTP_DOWNLEVEL_SERVER",
        "the server does not support the requested protocol level",
    ),
    12152: WinInetError(
        12152,
        "ERROR_HTTP_INVALID_SERVER_RESPONSE",
        "the server returned an invalid or unrecognised response",
    ),
    12153: WinInetError(12153, "ERROR_HTTP_INVALID_HEADER", "the supplied HTTP header is invalid"),
    12154: WinInetError(
        12154, "ERROR_HTTP_INVALID_QUERY_REQUEST", "the request for an HTTP header is invalid"
    ),
    12155: WinInetError(
        12155, "ERROR_HTTP_HEADER_ALREADY_EXISTS", "the HTTP header already exists"
    ),
    12156: WinInetError(12156, "ERROR_HTTP_REDIRECT_FAILED", "the HTTP redirect failed"),
    12157: WinInetError(
        12157,
        "ERROR_INTERNET_SECURITY_CHANNEL_ERROR",
        "an error occurred in the secure channel (TLS handshake failed)",
    ),
    12158: WinInetError(
        12158, "ERROR_INTERNET_UNABLE_TO_CACHE_FILE", "the file could not be written to the cache"
    ),
    12159: WinInetError(
        12159, "ERROR_INTERNET_TCPIP_NOT_INSTALLED", "TCP/IP is not installed properly"
    ),
    12160: WinInetError(12160, "ERROR_HTTP_NOT_REDIRECTED", "the HTTP request was not redirected"),
    12161: WinInetError(
        12161, "ERROR_HTTP_COOKIE_NEEDS_CONFIRMATION", "a cookie from the server must be confirmed"
    ),
    12162: WinInetError(
        12162, "ERROR_HTTP_COOKIE_DECLINED", "a cookie from the server was declined"
    ),
    12163: WinInetError(
        12163, "ERROR_INTERNET_DISCONNECTED", "the device is disconnected from the network"
    ),
    12164: WinInetError(12164, "ERROR_INTERNET_SERVER_UNREACHABLE", "the server is unreachable"),
    12165: WinInetError(
        12165, "ERROR_INTERNET_PROXY_SERVER_UNREACHABLE", "the proxy server is unreachable"
    ),
    12166: WinInetError(
        12166,
        "ERROR_INTERNET_BAD_AUTO_PROXY_SCRIPT",
        "the proxy auto-configuration script is in error",
    ),
    12167: WinInetError(
        12167,
        "ERROR_INTERNET_UNABLE_TO_DOWNLOAD_SCRIPT",
        "the proxy auto-configuration script could not be downloaded",
    ),
    12168: WinInetError(
        12168, "ERROR_HTTP_REDIRECT_NEEDS_CONFIRMATION", "the HTTP redirect must be confirmed"
    ),
    12169: WinInetError(
        12169, "ERROR_INTERNET_SEC_INVALID_CERT", "the server certificate is invalid"
    ),
    12170: WinInetError(
        12170, "ERROR_INTERNET_SEC_CERT_REVOKED", "the server certificate has been revoked"
    ),
    12171: WinInetError(
        12171, "ERROR_INTERNET_FAILED_DUETOSECURITYCHECK", "failed because of a security check"
    ),
    12172: WinInetError(12172, "ERROR_INTERNET_NOT_INITIALIZED", "WinInet is not initialised"),
    12173: WinInetError(
        12173, "ERROR_INTERNET_NEED_MSN_SSPI_PKG", "the MSN SSPI package is needed"
    ),
    12174: WinInetError(
        12174,
        "ERROR_INTERNET_LOGIN_FAILURE_DISPLAY_ENTITY_BODY",
        "login failed; the server sent a page to show",
    ),
    12175: WinInetError(12175, "ERROR_INTERNET_DECODING_FAILED", "content decoding failed"),
}
