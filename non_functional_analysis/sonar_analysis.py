"""Sonar measures per file (LoC, Reliability, Maintainability, Security_Hotspots, CyC, CoC).
With --sonar_url: read them from a SonarQube/SonarCloud project through its Web API (route a): sonar.csv.
Without: Sonar-like approximations measured offline with open tools (route b: pylint, bandit, PMD, lizard,
cognitive-complexity): sonarlike.csv. Only route (a) gives Sonar's values."""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.errors import UserError
from codepeft.quality.command_line import add_folder_arguments, run_tools
from codepeft.quality.sonar_api import export_sonar_measures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_folder_arguments(parser)
    parser.add_argument("--sonar_url", help="server address, e.g. https://sonarcloud.io (selects route a)")
    parser.add_argument("--sonar_project", help="project key on the server (route a)")
    parser.add_argument("--sonar_token_env", default="SONAR_TOKEN",
                        help="environment variable holding the user token (default: %(default)s); never written out")
    parser.add_argument("--sonar_organization", help="SonarCloud organization key (route a, optional)")
    parser.add_argument("--sonar_branch", help="branch to read (route a, default: the main branch)")
    parser.add_argument("--no_wrap", action="store_true", help="route b, Java: do not wrap bare methods in a class")
    args = parser.parse_args()
    if args.sonar_url:
        token = os.environ.get(args.sonar_token_env, "")
        if not args.sonar_project or not token:
            raise UserError("--sonar_url needs --sonar_project (the project key) and a user token in "
                            f"${args.sonar_token_env} (or name another variable with --sonar_token_env)")
        export_sonar_measures(args.sonar_url, args.sonar_project, token,
                              args.input_dir, args.output_dir, args.sonar_organization, args.sonar_branch,
                              protocol=args.protocol)
    else:
        run_tools(["sonarlike"], args, {"sonarlike": {"wrap": not args.no_wrap}})


if __name__ == "__main__":
    main_entry(main)
