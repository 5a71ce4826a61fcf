from capinspect.knowledge.win32 import (
    WIN32_BY_SYMBOL,
    WIN32_ERRORS,
    win32_from_hresult,
)


def test_the_codes_iis_logs_show_are_there_with_their_symbols() -> None:
    assert WIN32_ERRORS[5].symbol == "ERROR_ACCESS_DENIED"
    assert WIN32_ERRORS[2].symbol == "ERROR_FILE_NOT_FOUND"
    assert WIN32_ERRORS[64].symbol == "ERROR_NETNAME_DELETED"
    assert WIN32_ERRORS[1236].symbol == "ERROR_CONNECTION_ABORTED"
    assert WIN32_BY_SYMBOL["ERROR_SEM_TIMEOUT"].code == 121


def test_every_entry_names_the_microsoft_page_of_its_range() -> None:
    ranges = {"0-499": (0, 499), "500-999": (500, 999), "1000-1299": (1000, 1299)}
    ranges["1300-1699"] = (1300, 1699)
    for code, error in WIN32_ERRORS.items():
        assert error.code == code and error.symbol.startswith("ERROR_")
        low, high = next(r for name, r in ranges.items() if error.source.endswith(f"({name})"))
        assert low <= code <= high, error
        assert error.source.startswith("Microsoft, System Error Codes")


def test_hresult_from_win32_is_undone_only_for_facility_7() -> None:
    assert win32_from_hresult(0x80070005) == 5
    assert win32_from_hresult(0x80070002) == 2
    assert win32_from_hresult(0x8009030E) is None
    assert win32_from_hresult(0x00000005) is None
