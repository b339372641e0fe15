import sys


def pytest_terminal_summary(terminalreporter):
    """Schemathesis' example counts and findings, shown even when the run passes."""
    module = sys.modules.get("tests.stress.test_schemathesis")
    lines = module.report_lines() if module is not None else []
    if lines:
        terminalreporter.section("schemathesis figures")
        for line in lines:
            terminalreporter.write_line(line)
