"""Whether the app may run code: replaying a prediction loads and runs its
model, and "Verify now" rebuilds a model with the project's own code. Both
are off unless the app was started with ``provex app --allow-run`` (its
alias ``--allow-verify`` is the flag's old name), which sets
:data:`ENV`; the old variable :data:`LEGACY_ENV` is honoured when the new
one is unset."""

from __future__ import annotations

import os

ENV = "PROVEX_ALLOW_RUN"
LEGACY_ENV = "PROVEX_ALLOW_VERIFY"
HINT = ("it runs the model's and the project's code, so it is off: start the app with "
        "`provex app --allow-run` to turn it on")


def allowed() -> bool:
    """True when the app was started with --allow-run (or --allow-verify)."""
    value = os.environ.get(ENV)
    return (value if value is not None else os.environ.get(LEGACY_ENV)) == "1"


def set_allowed(on: bool) -> None:
    """What `provex app --allow-run` sets for the Streamlit process it starts."""
    os.environ[ENV] = os.environ[LEGACY_ENV] = "1" if on else "0"
