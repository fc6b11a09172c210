"""creditkit: the credit team's small numeric library, installed in the training
environment (not in the DVC project). The generator writes each version as a real
distribution (package + dist-info) into a folder on the training stages' PYTHONPATH:
1.4.0 at step g, 1.5.0 from step h. 1.5.0 changed winsorize's default limits, which is
the library upgrade story: same code, data and params, other model."""
from pathlib import Path

DEFAULTS = {"1.4.0": "(0.0, 0.005)", "1.5.0": "(0.1, 0.1)"}

SOURCE = '''"""creditkit {version}: numeric helpers for credit models."""
import numpy as np

__version__ = "{version}"


def winsorize(values, limits={limits}):
    """Clip values to their quantiles (limits[0], 1 - limits[1]).

    Changed in 1.5.0: the default limits are (0.1, 0.1), symmetric (were (0.0, 0.005)).
    """
    values = np.asarray(values, dtype=float)
    low, high = np.quantile(values, [limits[0], 1.0 - limits[1]])
    return np.clip(values, low, high)
'''


def install(root: Path, version: str) -> Path:
    """A folder holding creditkit==version (for PYTHONPATH); returns it."""
    site = root / f"creditkit-{version}"
    (site / "creditkit").mkdir(parents=True, exist_ok=True)
    (site / "creditkit" / "__init__.py").write_text(SOURCE.format(version=version, limits=DEFAULTS[version]))
    meta = site / f"creditkit-{version}.dist-info"
    meta.mkdir(exist_ok=True)
    (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: creditkit\nVersion: {version}\n")
    (meta / "RECORD").write_text("")
    return site
