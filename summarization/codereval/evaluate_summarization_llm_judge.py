"""Rate generated summaries with an LLM judge (Content adequacy, Conciseness, Fluency; 1-5), over several runs."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codepeft.cli import main_entry
from codepeft.errors import UserError
from codepeft.metrics.judge import AGGREGATION_METHODS, DEFAULT_JUDGE_MODEL, LANGUAGE_NAMES, JudgeOptions, judge_file
from codepeft.provenance import add_protocol_argument


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input_file", required=True, help="inference output JSONL: id, code and the summary field")
    parser.add_argument("--output_folder", required=True, help="where the run CSVs, merged CSVs and cache go")
    parser.add_argument("--language", required=True, choices=sorted(LANGUAGE_NAMES))
    parser.add_argument("--summary_field", default="generated_summary", help="field holding the summary to rate")
    parser.add_argument("--model_name", required=True, help="name of the model whose summaries are rated (names files)")
    parser.add_argument("--num_runs", type=int, default=5, help="independent ratings per summary (default 5)")
    parser.add_argument("--judge_model", default=DEFAULT_JUDGE_MODEL, help="judge model (default %(default)s)")
    parser.add_argument("--base_url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 "
                                           "(default: OpenAI); the key comes from OPENAI_API_KEY")
    parser.add_argument("--max_concurrency", type=int, default=4, help="requests in flight at once (default 4)")
    parser.add_argument("--max_retries", type=int, default=5,
                        help="retries per request on 429, 5xx, timeouts, with exponential backoff (default 5)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request (default 120)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the endpoint's)")
    parser.add_argument("--cache_dir", help="reply cache (default: OUTPUT_FOLDER/judge_cache)")
    parser.add_argument("--max_samples", type=int, help="rate only the first N rows")
    parser.add_argument("--max_failures", type=int, default=10,
                        help="stop asking after this many prompts in a row fail with an error (default 10); "
                             "the outputs are written and a rerun asks what is missing")
    add_protocol_argument(parser)
    args = parser.parse_args()

    options = JudgeOptions(judge_model=args.judge_model, base_url=args.base_url, num_runs=args.num_runs,
                           temperature=args.temperature, protocol=args.protocol, max_concurrency=args.max_concurrency,
                           max_retries=args.max_retries, timeout=args.timeout, max_failures=args.max_failures,
                           cache_dir=args.cache_dir)
    summary = judge_file(args.input_file, args.output_folder, args.language, args.model_name, options,
                         args.summary_field, args.max_samples)
    for method in AGGREGATION_METHODS:
        means = ", ".join(f"{c} {v:.3f}" if v is not None else f"{c} -" for c, v in summary["means"][method].items())
        print(f"{method:>4}: {means}")
    print(f"{summary['n_targets']} summaries x {summary['num_runs']} runs: {summary['new_replies']} new replies "
          f"({summary['requests']} requests, {summary['retries']} retries), {summary['cached_replies']} from cache, "
          f"{summary['unparsable_replies']} unparsable, {summary['refused_prompts']} refused, "
          f"{summary['error_prompts']} errors; files in {args.output_folder}")
    if not summary["rated_prompts"]:
        asked = summary["n_targets"] * summary["num_runs"]
        counts = ", ".join(f"{status} {n}" for status, n in summary["statuses"].items() if n)
        retry = ("fix the cause and rerun the same command: it asks those prompts again"
                 if summary["refused_prompts"] or summary["error_prompts"] else
                 "see the reply column of the run CSVs (replies are cached; --cache_dir elsewhere asks afresh)")
        raise UserError(f"{args.input_file}: no summary was rated ({asked} prompts to judge {args.judge_model}"
                        f"{' at ' + args.base_url if args.base_url else ''}: {counts}"
                        f"{'; first: ' + summary['first_failure'] if summary['first_failure'] else ''}); the "
                        f"merged CSVs in {args.output_folder} are empty, with a status column; {retry}")
    if summary["refused_prompts"] or summary["error_prompts"]:
        print(f"warning: {summary['refused_prompts'] + summary['error_prompts']} rating(s) left empty "
              "(status refused/error in the run CSVs); rerun the same command to ask them again",
              file=sys.stderr)


if __name__ == "__main__":
    main_entry(main)
