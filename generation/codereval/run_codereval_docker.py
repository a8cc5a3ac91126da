"""Execute predictions with CoderEval's own Docker harness (needs Docker and CoderEval's image); see generation/README.md."""

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codepeft.cli import main_entry
from codepeft.execution.codereval_docker import HARNESSES, run_codereval_docker
from codepeft.provenance import write_provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--predictions", required=True, help='JSONL: {"_id": task_id, "generate_results": [code, ...]}')
    parser.add_argument("--language", required=True, choices=sorted(HARNESSES))
    parser.add_argument("--output", required=True, help="where to put the executor's results JSONL")
    parser.add_argument("--image", default="codereval", help="name or id of the loaded CoderEval image (default codereval)")
    parser.add_argument("--samples", type=int, default=1, help="samples per task in the predictions (default 1)")
    parser.add_argument("--command", help="executor command in the image, with {input} and {samples} "
                        "(default: " + "; ".join(f"{k}: {v.command}" for k, v in HARNESSES.items()) + ")")
    parser.add_argument("--workdir", help="executor folder in the image (default: "
                        + "; ".join(f"{k}: {v.workdir}" for k, v in HARNESSES.items()) + ")")
    parser.add_argument("--dry_run", action="store_true", help="only print the docker command")
    args = parser.parse_args()
    command = run_codereval_docker(args.image, args.language, args.predictions, args.output, args.samples,
                                   args.command, args.workdir, args.dry_run)
    if args.dry_run:
        print(shlex.join(command))
        return
    write_provenance(args.output, "execute", "study",
                     {"language": args.language, "samples": args.samples, "image": args.image,
                      "command": args.command, "workdir": args.workdir},
                     sandbox={"kind": "docker", "image": args.image, "network": "none",
                              "description": "CoderEval's own harness in its Docker image, run with --network none"})
    print(f"results in {args.output}; score them with generation/codereval/compute_passk.py --results {args.output}")


if __name__ == "__main__":
    main_entry(main)
