"""Run every benchmark script in turn; each rewrites its own section of BENCHMARKS.md."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_ops.py", "bench_mlp.py", "bench_cnn.py", "bench_sgns.py", "bench_mpi.py", "bench_busy.py"]

if __name__ == "__main__":
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True, cwd=HERE.parent)
