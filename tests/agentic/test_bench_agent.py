"""`llamasys bench agent --json` runs end to end and reports what the README quotes (no timing asserts)."""

import json

from typer.testing import CliRunner

from llamasys.apps.cli import app


def test_bench_agent_json_report():
    result = CliRunner().invoke(
        app, ["bench", "agent", "--turns", "3", "--sessions", "4", "--turns-per-session", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["benchmark"] == "agent" and report["steps_per_turn"] == 3
    assert report["sequential"]["per_step"]["n"] == 3
    assert report["concurrent"]["sessions"] == 4 and report["concurrent"]["per_step"]["n"] == 8
    assert report["baseline"]["no_orchestrator_per_step"]["n"] == 3
    assert isinstance(report["meets_target"], bool) and report["target_ms"] == 5.0
