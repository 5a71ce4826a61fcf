"""Win32 error codes and HRESULTs: the ``sc-win32-status`` of an IIS log line and the "Error Code
0x8007xxxx" of an IIS error page.

An IIS log line ends ``sc-status sc-substatus sc-win32-status time-taken``: in the article's
failing download ``500 19 5 62`` the 5 is ERROR_ACCESS_DENIED, and the error page of the same
request shows it as the HRESULT ``0x80070005`` (HRESULT_FROM_WIN32(5)). Only the codes seen with
failed or cut IIS requests are kept: a small table, not winerror.h.

Sources, by entry (numbers, symbols and message texts as Microsoft publishes them; the meanings
here are short paraphrases with what they mean for a firmware download):
* [0-499] Microsoft, "System Error Codes (0-499)" (learn.microsoft.com, Win32 debug docs).
* [500-999] Microsoft, "System Error Codes (500-999)".
* [1000-1299] Microsoft, "System Error Codes (1000-1299)".
* [1300-1699] Microsoft, "System Error Codes (1300-1699)".
* [HRESULT] Microsoft, "HRESULT_FROM_WIN32 macro (winerror.h)": a Win32 code ``c`` becomes
  ``0x80070000 | c`` (severity 1, facility 7 = FACILITY_WIN32).
"""

from __future__ import annotations

from typing import NamedTuple


class Win32Error(NamedTuple):
    code: int
    symbol: str
    meaning: str
    source: str


def _e(code: int, symbol: str, meaning: str, source: str) -> tuple[int, Win32Error]:
    return code, Win32Error(code, symbol, meaning, source)


_ST = "Microsoft, System Error Codes"

WIN32_ERRORS: dict[int, Win32Error] = dict(
    [
        _e(0, "ERROR_SUCCESS", "the operation completed successfully", f"{_ST} (0-499)"),
        _e(1, "ERROR_INVALID_FUNCTION", "incorrect function", f"{_ST} (0-499)"),
        _e(
            2,
            "ERROR_FILE_NOT_FOUND",
            "the system cannot find the file specified: the file is not in the folder IIS maps",
            f"{_ST} (0-499)",
        ),
        _e(
            3,
            "ERROR_PATH_NOT_FOUND",
            "the system cannot find the path specified: a folder of the URL does not exist",
            f"{_ST} (0-499)",
        ),
        _e(
            5,
            "ERROR_ACCESS_DENIED",
            "access is denied: the account IIS reads the folder with has no read right on it "
            "(check the folder's and the share's permissions)",
            f"{_ST} (0-499)",
        ),
        _e(6, "ERROR_INVALID_HANDLE", "the handle is invalid", f"{_ST} (0-499)"),
        _e(
            8,
            "ERROR_NOT_ENOUGH_MEMORY",
            "not enough memory resources are available to process this command",
            f"{_ST} (0-499)",
        ),
        _e(13, "ERROR_INVALID_DATA", "the data is invalid", f"{_ST} (0-499)"),
        _e(
            32,
            "ERROR_SHARING_VIOLATION",
            "the file is being used by another process",
            f"{_ST} (0-499)",
        ),
        _e(50, "ERROR_NOT_SUPPORTED", "the request is not supported", f"{_ST} (0-499)"),
        _e(
            53,
            "ERROR_BAD_NETPATH",
            "the network path was not found: the UNC share behind the folder cannot be reached",
            f"{_ST} (0-499)",
        ),
        _e(59, "ERROR_UNEXP_NET_ERR", "an unexpected network error occurred", f"{_ST} (0-499)"),
        _e(
            64,
            "ERROR_NETNAME_DELETED",
            "the specified network name is no longer available: the client closed the "
            "connection before the answer was sent",
            f"{_ST} (0-499)",
        ),
        _e(
            67,
            "ERROR_BAD_NET_NAME",
            "the network name cannot be found (the share name is wrong)",
            f"{_ST} (0-499)",
        ),
        _e(
            86,
            "ERROR_INVALID_PASSWORD",
            "the specified network password is not correct",
            f"{_ST} (0-499)",
        ),
        _e(87, "ERROR_INVALID_PARAMETER", "the parameter is incorrect", f"{_ST} (0-499)"),
        _e(
            121,
            "ERROR_SEM_TIMEOUT",
            "the semaphore timeout period has expired: the connection timed out",
            f"{_ST} (0-499)",
        ),
        _e(
            123,
            "ERROR_INVALID_NAME",
            "the file name, directory name or volume label syntax is incorrect",
            f"{_ST} (0-499)",
        ),
        _e(
            995,
            "ERROR_OPERATION_ABORTED",
            "the I/O operation has been aborted because of either a thread exit or an "
            "application request: the transfer was cut",
            f"{_ST} (500-999)",
        ),
        _e(
            1236,
            "ERROR_CONNECTION_ABORTED",
            "the network connection was aborted by the local system",
            f"{_ST} (1000-1299)",
        ),
        _e(
            1326,
            "ERROR_LOGON_FAILURE",
            "the user name or password is incorrect",
            f"{_ST} (1300-1699)",
        ),
    ]
)
"""Win32 error code → symbol and meaning (the codes an IIS log's sc-win32-status shows most)."""

WIN32_BY_SYMBOL: dict[str, Win32Error] = {e.symbol: e for e in WIN32_ERRORS.values()}

HRESULT_FROM_WIN32_BASE = 0x80070000
"""``HRESULT_FROM_WIN32(c)`` for 0 < c <= 0xFFFF (Microsoft, "HRESULT_FROM_WIN32 macro")."""


def win32_from_hresult(hresult: int) -> int | None:
    """The Win32 code inside an HRESULT of facility 7 (``0x80070005`` → 5); ``None`` otherwise."""
    if hresult & 0xFFFF0000 == HRESULT_FROM_WIN32_BASE:
        return hresult & 0xFFFF
    return None
