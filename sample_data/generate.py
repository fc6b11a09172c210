"""Regenerate the provex credit-scoring sample from scratch (run from anywhere):

    python sample_data/generate.py

Writes sample_data/{credit-dvc.bundle, dvc-cache.tar.gz, mlflow/, predictions/,
expected.json, README.md}. See sample_data/README.md.
"""
import os
import sys
import warnings
from pathlib import Path

# Before numpy loads: the same OpenBLAS kernels on every x86-64 machine (see generator/dvcrepo.py).
os.environ["OPENBLAS_CORETYPE"] = "Haswell"

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore")

from generator.main import main  # noqa: E402

if __name__ == "__main__":
    main()
