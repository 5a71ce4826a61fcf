from capinspect.knowledge.wininet import WININET_ERRORS


def test_table_has_the_codes_protocol_md_lists() -> None:
    for code in (12002, 12007, 12029, 12030, 12031, 12037, 12038, 12045, 12157, 12175):
        assert code in WININET_ERRORS
    assert WININET_ERRORS[0x2F7D].symbol == "ERROR_INTERNET_SECURITY_CHANNEL_ERROR"
    assert WININET_ERRORS[12150].symbol == "ERROR_HTTP_HEADER_NOT_FOUND"


def test_codes_are_consistent() -> None:
    for code, error in WININET_ERRORS.items():
        assert error.code == code
        assert 12001 <= code <= 12175
        assert error.symbol.startswith("ERROR_") and error.meaning
