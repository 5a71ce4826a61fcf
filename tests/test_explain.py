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
