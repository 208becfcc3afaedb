"""Hypothesis profiles, loaded from HYPOTHESIS_PROFILE (default `ci`). A module of its
own so that the fuzz workers load them without the test fixtures (and ape).

`ci` keeps `make test` within about 15 minutes on two cores; `deep` is for long
runs (`make fuzz-deep` gives it a step budget); `mutants` is `deep` without shrinking
or the example database; `debug` skips shrinking. For the
state machines `max_examples` is per market and `stateful_step_count` per example."""

import os

from hypothesis import HealthCheck, Phase, Verbosity, settings

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=400, stateful_step_count=50, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True
)
settings.register_profile(
    "deep", max_examples=1_000, stateful_step_count=50, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True
)
settings.register_profile(
    # The mutation probe (tools/mutants.py): a failure is all it needs to know, and
    # one mutant's failing examples must not be replayed against the next.
    "mutants",
    parent=settings.get_profile("deep"),
    phases=[Phase.generate],
    database=None,
)
settings.register_profile(
    # No shrinking: fast feedback while developing.
    "debug",
    parent=settings.get_profile("ci"),
    phases=list(Phase)[:4],
    verbosity=Verbosity.normal,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
