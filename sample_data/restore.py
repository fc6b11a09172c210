"""Copy the sample MLflow store so it can be opened from any working directory.

The committed sample_data/mlflow/mlflow.db stores artifact locations relative to the
repository root (sample_data/mlflow/artifacts/...). This writes DEST/mlflow.db whose
locations are absolute paths (into this checkout's artifacts, or into DEST/artifacts
with --copy-artifacts) and prints the tracking URI to use:

    python sample_data/restore.py /tmp/pv-mlflow [--copy-artifacts]
"""
import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generator.mlflow_store import relocate  # noqa: E402

REL_STORE = "sample_data/mlflow"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", type=Path)
    ap.add_argument("--copy-artifacts", action="store_true")
    args = ap.parse_args()
    dest = args.dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(HERE / "mlflow" / "mlflow.db", dest / "mlflow.db")
    root = HERE / "mlflow"
    if args.copy_artifacts:
        shutil.copytree(root / "artifacts", dest / "artifacts", dirs_exist_ok=True)
        root = dest
    relocate(dest / "mlflow.db", REL_STORE, str(root))
    print(f"sqlite:///{(dest / 'mlflow.db').as_posix()}")


if __name__ == "__main__":
    main()
