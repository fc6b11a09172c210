"""Regenerate the provex credit-scoring sample from scratch (run from anywhere):

    python sample_data/generate.py

Writes sample_data/{credit-dvc.bundle, dvc-cache.tar.gz, mlflow/, predictions/,
expected.json, README.md}. See sample_data/README.md.
"""
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore")

from generator.main import main  # noqa: E402

if __name__ == "__main__":
    main()
