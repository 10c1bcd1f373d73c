"""The verify stage counts its schedule from when it began (config_from), so what it does
before the first query (imports, the HTTP client, reading the evidence) and what the pipeline
does between config_from and run are part of the initial delay, and a run that nothing ends
early lasts initial-delay + count x interval: against a real Prometheus."""

from __future__ import annotations

import time

import pytest

from mlgate.stages.params import values_from
from mlgate.stages.verify import STAGE


def config(url: str, **inputs):
    given = {"prometheus": url, "check": ["name=one,query=vector(1),min=1"],
             "on-failure": "none", **inputs}
    values = values_from(STAGE.params, given, where="test")
    return STAGE.config_from(values, {"PATH": "/usr/bin:/bin", "MLGATE_CI": "quiet"})


def test_time_before_run_is_part_of_the_initial_delay_not_added_to_it(bare_prometheus):
    began = time.monotonic()
    cfg = config(bare_prometheus.url, **{"initial-delay": "1s", "count": "2",
                                          "interval": "0.5s"})
    time.sleep(0.8)                # a slow setup: most of the initial delay is gone
    outcome = STAGE.run(cfg, lambda line: None)
    took = time.monotonic() - began
    result = outcome.result
    assert result.phase == "Successful"
    assert 2.0 <= took < 2.6       # not 2.8 and more: the 0.8 s came out of the delay
    assert 2.0 <= result.seconds < 2.3
    ats = [m.at for m in result.checks[0].measurements]
    assert len(ats) == 2 and 1.5 <= ats[0] < 1.8 and 2.0 <= ats[1] < 2.3


def test_a_setup_longer_than_delay_and_interval_measures_at_once_then_on_schedule(
        bare_prometheus):
    cfg = config(bare_prometheus.url, count="2", interval="0.5s")
    time.sleep(0.8)
    before = time.monotonic()
    outcome = STAGE.run(cfg, lambda line: None)
    took = time.monotonic() - before
    ats = [m.at for m in outcome.result.checks[0].measurements]
    assert outcome.result.phase == "Successful"
    assert 0.5 <= took < 1.0       # the first at once, the second 0.5 s later (not 1.0 + setup)
    assert ats[1] - ats[0] == pytest.approx(0.5, abs=0.1)
