"""Rescore translation predictions without decoding: per-instance and corpus CodeBLEU, exact match, BLEU."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.metrics.codebleu import TOKENIZERS, evaluate_translation_predictions
from codepeft.provenance import add_protocol_argument


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--predictions", required=True,
                        help="predictions JSONL: one {id, source, reference, prediction} a line")
    parser.add_argument("--direction", required=True, choices=["java_to_cs", "cs_to_java"])
    parser.add_argument("--output_dir", help="where codebleu_<direction>.csv and results_<direction>.json go "
                                             "(default: the predictions file's folder)")
    parser.add_argument("--tokenizer", default="code", choices=sorted(TOKENIZERS),
                        help="tokens for the n-gram components, exact match and BLEU: 'code' splits identifiers, "
                             "literals and punctuation whatever the spacing (default); 'whitespace' is the "
                             "codebleu package's own split")
    add_protocol_argument(parser)
    args = parser.parse_args()

    output_dir = args.output_dir or str(Path(args.predictions).resolve().parent)
    results = evaluate_translation_predictions(args.predictions, args.direction, output_dir, args.tokenizer,
                                               args.protocol)
    print(f"{results['n_instances']} predictions ({args.direction}); CodeBLEU {results['codebleu']:.4f} "
          f"(n-gram {results['ngram_match']:.4f}, weighted {results['weighted_ngram_match']:.4f}, "
          f"syntax {results['syntax_match']:.4f}, data flow "
          + (f"{results['dataflow_match']:.4f}" if results["dataflow_match"] is not None else "undefined")
          + f"); exact match {results['exact_match']:.4f}; BLEU {results['bleu']:.4f}")
    print(f"wrote {output_dir}/codebleu_{args.direction}.csv and results_{args.direction}.json")


if __name__ == "__main__":
    main_entry(main)
