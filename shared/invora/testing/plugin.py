"""Entry point of the invora pytest plugin: exposes every fixture of `invora.testing`."""

import pytest

from invora.testing.dev_run import dev_data_dir  # noqa: F401
from invora.testing.events import wait_for_event  # noqa: F401
from invora.testing.infrastructure import (  # noqa: F401
    create_database,
    invora_kafka,
    invora_keys,
    invora_postgres,
    invora_secrets_key,
    make_api_key,
    migrated_database,
)
from invora.testing.live import live_service  # noqa: F401
from invora.testing.localstripe import localstripe  # noqa: F401
from invora.testing.receiver import webhook_receiver  # noqa: F401
from invora.testing.services import start_service  # noqa: F401


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):  # noqa: ANN001, ANN201 - pytest's hook signature
    """After pytest's own summary (on CI it prints each failure's whole message, which can bury the
    names under pages of diagnostics): one line per failed test, so the tail of the log names them."""
    result = yield
    failed = [*terminalreporter.stats.get("failed", []), *terminalreporter.stats.get("error", [])]
    if failed:
        terminalreporter.write_sep("=", f"{len(failed)} failed or errored")
        for report in failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            first = crash.message.splitlines()[0][:160] if crash is not None and crash.message else ""
            terminalreporter.write_line(f"{report.when.upper() if report.when != 'call' else 'FAILED'} "
                                        f"{report.nodeid} - {first}")
    return result
