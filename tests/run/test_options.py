"""What a command asks of the step: the typed options and what they say of themselves."""

from __future__ import annotations

from capinspect.limits import DEFAULT_LIMITS
from capinspect.run.options import Keys, Output, Redaction, RunOptions, ServerLogs


def test_keys_are_given_by_a_key_file_or_a_key_log_not_by_a_password() -> None:
    assert not Keys().given
    assert not Keys(password="secret").given
    assert Keys(paths=("server.pem",)).given and Keys(keylog="keys.log").given


def test_server_logs_list_iis_then_audit() -> None:
    logs = ServerLogs(iis=("u_ex1.log", "iis/"), audit=("audit.log",))
    assert logs.given and logs.paths == ("u_ex1.log", "iis/", "audit.log")
    assert not ServerLogs().given and ServerLogs().paths == ()


def test_output_to_stdout_unless_a_file_is_named() -> None:
    assert Output().to_stdout and Output(path="-").to_stdout
    assert not Output(path="report.html").to_stdout


def test_defaults_are_a_plain_text_run_with_nothing_extra() -> None:
    options = RunOptions()
    assert options.output.fmt == "text" and options.redaction == Redaction(False, ())
    assert options.sinks == () and options.limits is DEFAULT_LIMITS and not options.keys.given
