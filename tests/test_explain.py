import pytest

from capinspect.errors import CapinspectError
from capinspect.explain import explain


def test_last_update_status_from_the_seed() -> None:
    text = explain("0x2f7d/200")
    assert "12157" in text and "ERROR_INTERNET_SECURITY_CHANNEL_ERROR" in text
    assert "HTTP 200" in text


def test_healthy_status_is_called_healthy() -> None:
    assert "healthy" in explain("(0x0/200)")


def test_iis_substatus() -> None:
    text = explain("500.19")
    assert "500.19" in text and "onfiguration" in text
    assert "403.4" in explain("403.4") and "SSL" in explain("403.4")


def test_check_id() -> None:
    text = explain("download.acl-denied")
    assert "500.19" in text and "What to do" in text and "Source" in text


def test_bare_wininet_code() -> None:
    assert "NAME_NOT_RESOLVED" in explain("12007")
    assert "NAME_NOT_RESOLVED" in explain("0x2ee7")


def test_unknown_term_is_a_clear_error() -> None:
    with pytest.raises(CapinspectError, match="cannot explain"):
        explain("banana")


@pytest.mark.parametrize("term", ["500 19 5", "500 19 5 62", "  500  19  5 "])
def test_iis_log_triple_and_time_taken(term: str) -> None:
    text = explain(term)
    assert "500.19" in text and "ERROR_ACCESS_DENIED" in text
    assert "download.acl-denied" in text  # the article's failing download, by its check ID
    if term.endswith("62"):
        assert "time-taken 62 ms" in text
    else:
        assert "time-taken" not in text


def test_iis_log_triple_of_a_missing_file() -> None:
    text = explain("404 0 2")
    assert "404.0" in text and "ERROR_FILE_NOT_FOUND" in text
    assert "acl-denied" not in text


@pytest.mark.parametrize(
    "term",
    [
        "500.19",
        "HTTP 500.19",
        "http 500.19",
        "HTTP Error 500.19 - Internal Server Error",
        "HTTP Error 500.19 – Internal Server Error",
        "'500.19'",
        "500 19",
        "HTTP 500.19 Internal Server Error",
        "500 Internal Server Error (IIS 500.19)",
    ],
)
def test_every_way_to_write_500_19_gives_the_same_meaning(term: str) -> None:
    assert explain(term) == explain("500.19")
    assert "IIS 500.19" in explain(term)


def test_status_line_and_bare_status() -> None:
    assert explain("HTTP/1.1 403 Forbidden").startswith("HTTP 403 Forbidden")
    assert explain("404").startswith("HTTP 404 Not Found")


@pytest.mark.parametrize("term", ["0x80070005", "0X80070005", "Error Code 0x80070005"])
def test_hresult_capinspect_prints_is_win32_access_denied(term: str) -> None:
    text = explain(term)
    assert "HRESULT_FROM_WIN32(5)" in text and "ERROR_ACCESS_DENIED" in text
    assert "System Error Codes (0-499)" in text


def test_hresult_of_another_facility_is_named_not_guessed() -> None:
    text = explain("0x8009030E")
    assert "not a Win32 error" in text and "facility 9" in text


def test_bare_win32_status_has_a_hint() -> None:
    text = explain("5")
    assert "Win32 error 5 ERROR_ACCESS_DENIED" in text
    assert "sc-win32-status" in text and "0x2f7d/200" in text
    assert "ERROR_SEM_TIMEOUT" in explain("121")  # not an HTTP status: read as Win32


@pytest.mark.parametrize(
    "term",
    [
        "ERROR_INTERNET_NAME_NOT_RESOLVED",
        "error_internet_name_not_resolved",
        "INTERNET_NAME_NOT_RESOLVED",
        "12007",
        "0x2ee7",
        "0x2EE7",
    ],
)
def test_wininet_by_name_and_number(term: str) -> None:
    text = explain(term)
    assert text.startswith("WinInet 12007 (0x2ee7) ERROR_INTERNET_NAME_NOT_RESOLVED")


def test_win32_by_name() -> None:
    assert explain("ERROR_ACCESS_DENIED") == explain("0x80070005").split("\n", 1)[1]


@pytest.mark.parametrize(
    ("term", "healthy"),
    [
        ("0x2f7d/200", False),
        ("0×00/0", True),  # the multiplication sign the article prints
        ("0x0/200", True),
        ("(0x0/200)", True),
        ("Last Update Status: (0x0/200)", True),
        ("0x2ee7/0", False),
    ],
)
def test_last_update_status_forms(term: str, healthy: bool) -> None:
    text = explain(term)
    assert text.startswith("Last Update Status (")
    assert ("This one is healthy." in text) is healthy
    assert "WinInet:" in text and "HTTP:" in text
    if healthy:
        assert "not that an offered update was downloaded" in text


def test_last_update_status_with_the_multiplication_sign_reads_as_hex() -> None:
    assert "no WinInet error" in explain("0×00/0")
    assert "ERROR_INTERNET_NAME_NOT_RESOLVED" in explain("0×2ee7/0")


def test_every_check_id_is_explained() -> None:
    from capinspect.checks import ALL_SPECS

    for spec in ALL_SPECS:
        text = explain(spec.id)
        assert text.startswith(f"{spec.id} ({spec.severity}): {spec.title}")
        assert spec.remediation in text


@pytest.mark.parametrize("term", ["banana", "999", "0x1/2/3", "", "dhcp.nonsense"])
def test_unknown_input_lists_every_kind_accepted(term: str) -> None:
    with pytest.raises(CapinspectError) as caught:
        explain(term)
    message = str(caught.value)
    assert "\n" not in message
    for kind in ("check ID", "IIS status", "HRESULT", "Win32", "WinInet", "Last Update Status"):
        assert kind in message


def test_a_successful_log_line_reads_plainly() -> None:
    text = explain("200 0 0 15")
    assert "HTTP 200 OK" in text and "ERROR_SUCCESS" in text
    assert "not in capinspect's IIS table" not in text
    assert "IIS 404.0" in explain("404 0 2")  # 404.0 has its own meaning


@pytest.mark.parametrize(
    "term",
    ["0x0/200", "0×00/0", "0x2f7d/200", "5", "0x80070005", "0x8009030E", "12007", "200 0 0 1"],
)
def test_explain_cites_public_sources_only(term: str) -> None:
    """Words explain writes itself (not a check's or the IIS table's) name no internal file."""
    text = explain(term).lower()
    for internal in ("seed", "protocol.md", "comment 1", "§"):
        assert internal not in text, (term, internal)


def test_the_error_line_cites_public_sources_only() -> None:
    with pytest.raises(CapinspectError) as caught:
        explain("banana")
    assert "seed" not in str(caught.value) and "protocol.md" not in str(caught.value)


def test_error_page_lines_as_pasted() -> None:
    assert explain("HTTP Error 403.4 - Forbidden: SSL is required to view this resource.") == (
        explain("403.4")
    )
    assert "HRESULT_FROM_WIN32(5)" in explain("Error Code: 0x80070005")
    assert "ERROR_FILE_NOT_FOUND" in explain("Error Code 0x80070002")
