"""Lay the sample story out in a working folder, ready for `provex ingest --config`.

    python sample_data/restore.py DEST [--copy-artifacts]

writes
    DEST/credit-dvc/        the DVC project, cloned (with its whole history) from
                            credit-dvc.bundle, its DVC cache unpacked and the data
                            checked out, so local files can be hashed
    DEST/mlflow/mlflow.db   the MLflow store; the committed one keeps artifact
                            locations relative to the repository root, this copy
                            points them at absolute paths (this checkout's artifacts,
                            or DEST/mlflow/artifacts with --copy-artifacts)
    DEST/provex.toml        every sample source, for `provex ingest --config`
and prints the path of provex.toml. Re-running replaces DEST's contents.
"""

import argparse
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generator.mlflow_store import relocate  # noqa: E402

REL_STORE = "sample_data/mlflow"
PREDICTIONS = HERE / "predictions"


def restore_mlflow(dest: Path, copy_artifacts: bool) -> str:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(HERE / "mlflow" / "mlflow.db", dest / "mlflow.db")
    root = HERE / "mlflow"
    if copy_artifacts:
        shutil.copytree(root / "artifacts", dest / "artifacts", dirs_exist_ok=True)
        root = dest
    relocate(dest / "mlflow.db", REL_STORE, str(root))
    return f"sqlite:///{(dest / 'mlflow.db').as_posix()}"


def restore_dvc(dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run(["git", "clone", "-q", "-b", "main", str(HERE / "credit-dvc.bundle"), str(dest)], check=True)
    with tarfile.open(HERE / "dvc-cache.tar.gz") as tar:
        tar.extractall(dest / ".dvc", filter="data")
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "checkout", "-q"], cwd=dest, check=False, capture_output=True)
    return dest


def write_config(dest: Path, repo: Path, tracking_uri: str) -> Path:
    config = dest / "provex.toml"
    jsonl = ", ".join(f'"{(PREDICTIONS / n).as_posix()}"' for n in ("scoring.jsonl", "credit_limit.jsonl", "april_may.jsonl"))
    config.write_text(
        "# The sample story's sources (written by sample_data/restore.py)\n"
        f'[[source]]\nkind = "dvc"\npath = "{repo.as_posix()}"\n\n'
        f'[[source]]\nkind = "mlflow"\ntracking_uri = "{tracking_uri}"\n\n'
        f'[[source]]\nkind = "predictions"\nfiles = [{jsonl}]\n\n'
        f'[[source]]\nkind = "predictions"\nfiles = ["{(PREDICTIONS / "limit_review.csv").as_posix()}"]\n'
        f'mapping = "{(PREDICTIONS / "mapping.toml").as_posix()}"\n'
    )
    return config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", type=Path, help="working folder (created)")
    ap.add_argument("--copy-artifacts", action="store_true", help="copy MLflow artifacts into DEST too")
    args = ap.parse_args()
    dest = args.dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    repo = restore_dvc(dest / "credit-dvc")
    uri = restore_mlflow(dest / "mlflow", args.copy_artifacts)
    print(write_config(dest, repo, uri))


if __name__ == "__main__":
    main()
