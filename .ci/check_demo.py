"""Check the demo's outputs: every model x method x task x language has its metrics in summary.csv."""

import csv
import sys
from pathlib import Path

folder = Path(sys.argv[1])
with open(folder / "summary.csv", newline="") as handle:
    rows = list(csv.DictReader(handle))
assert list(rows[0]) == ["model", "method", "tasks_trained", "task", "language", "metric", "mean", "std", "n",
                         "n_unanalysable"], rows[0]
have = {(r["method"], r["task"], r["language"], r["metric"]) for r in rows}
expected = {
    ("generation", "python"): ["pass@1", "Pylint_Err", "flake8_E", "Lizard_DR"],
    ("generation", "java"): ["pass@1", "Lizard_DR"],
    ("summarization", "python"): ["BLEU", "METEOR", "Rouge-L", "chrF", "BERTScore"],
    ("summarization", "java"): ["BLEU", "METEOR", "Rouge-L", "chrF", "BERTScore"],
    ("translation", "java_to_cs"): ["CodeBLEU", "CSharp_SynErr", "Lizard_DR"],
    ("translation", "cs_to_java"): ["CodeBLEU", "Lizard_DR"],
}
missing = [(method, task, language, metric) for method in ("st-qlora", "mt-qlora", "mt-fft")
           for (task, language), metrics in expected.items() for metric in metrics
           if (method, task, language, metric) not in have]
assert not missing, f"summary.csv lacks {missing[:10]}"
# every row counts its instances; a metric that no instance had a value for (the tiny model's Python is
# all syntax errors: empty cells with status syntax_error) has n = 0 and no mean, never a 0
assert all(int(r["n"]) + int(r["n_unanalysable"]) > 0 for r in rows)
assert all((r["mean"] == "") == (r["n"] == "0") for r in rows)
stats = sorted((folder / "stats").glob("*.csv"))
assert len(stats) == 20, [p.name for p in stats]
report = (folder / "REPORT.md").read_text()
assert "mean nothing about the methods" in report and "## Statistical comparisons" in report
assert len(list((folder / "plots").glob("*.png"))) >= 6
print(f"demo outputs ok: {len(rows)} summary rows, {len(stats)} comparison tables, report and plots")
