"""Score generated summaries: BLEU, METEOR, ROUGE, chrF, BERTScore, SIDE; write PREFIX.csv (and its provenance
file), PREFIX.json and PREFIX.txt."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codepeft.cli import main_entry
from codepeft.metrics.embedding import DEFAULT_BERTSCORE_MODEL, STUDY_BERTSCORE_MODEL
from codepeft.metrics.text import LANGUAGES, evaluate_summary_file
from codepeft.provenance import add_protocol_argument


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset_path", required=True,
                        help="inference output JSONL: id, code, reference_summary and the generated summary")
    parser.add_argument("--language", required=True, choices=LANGUAGES)
    parser.add_argument("--summary_field", default="generated_summary", help="field holding the generated summary")
    parser.add_argument("--output_file", required=True, help="output PREFIX: writes PREFIX.csv, PREFIX.json, PREFIX.txt")
    parser.add_argument("--side_checkpoint", help="SIDE checkpoint folder (sentence-transformers style; Java only)")
    parser.add_argument("--bertscore_model",
                        help=f"the BERTScore model (hub name, local folder, or an installed package shipping one); "
                             f"default {DEFAULT_BERTSCORE_MODEL} (study protocol: {STUDY_BERTSCORE_MODEL}, layer 12). "
                             "When it cannot be loaded BERTScore is left empty: no other model is tried")
    parser.add_argument("--reference_field", help="field holding the reference summary (default: reference_summary, "
                                                  "else summary, reference, docstring)")
    parser.add_argument("--max_samples", type=int, help="score only the first N rows")
    add_protocol_argument(parser)
    args = parser.parse_args()

    evaluate_summary_file(args.dataset_path, args.language, args.summary_field, args.output_file,
                          bertscore_model=args.bertscore_model, side_checkpoint=args.side_checkpoint,
                          max_samples=args.max_samples, reference_field=args.reference_field,
                          protocol=args.protocol)
    print(Path(f"{args.output_file}.txt").read_text(encoding="utf-8"), end="")


if __name__ == "__main__":
    main_entry(main)
