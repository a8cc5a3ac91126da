"""Checkstyle on Java files: one JVM per chunk, XML report, violations counted per check package.

Checkstyle comes from Debian (``apt-get install checkstyle``: 8.36.1 on Debian 12) or from any
``checkstyle-*-all.jar`` named by ``CHECKSTYLE_JAR`` (the study used 10.21.1). The Sun and Google
configurations are read from the jar that runs, so they always match its version. Two changes are
made to every configuration, both needed for batching:

* ``haltOnException=false``: otherwise one unparsable file aborts the whole run;
* ``JavadocPackage`` removed: it reports a missing ``package-info.java`` once per *folder*, on
  whichever file comes first, so a file's count would depend on its neighbours.

``OuterTypeFilename`` (Google) is removed as well: the file name is the prediction id, not the model's
choice, so "class name does not match file name" would fire on every public class.

Protocol ``study``: the Sun checks as the study ran them, one file at a time: ``JavadocPackage`` stays and,
since each file sits in its own folder, fires once per file; every file is wrapped the study's way with the
wrapper's findings kept; violations are sorted into the study's eleven categories by its own rule list
(:data:`STUDY_RULES`; checks it did not list, such as LineLength or NewlineAtEndOfFile, are not counted); a
file Checkstyle cannot parse is 0 in every column (the study's run stopped on it and printed no violation).
The study used Checkstyle 10.21.1; no registry reachable here has it, so 8.36 runs (docs/quality.md lists
the checks whose Sun configuration differs between the two).

Known limit: Checkstyle 8.36 cannot parse Java 17 sealed classes (support arrived in 8.42); such a file
gets the status ``unsupported_sealed_class`` instead of ``parse_error``.
"""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.quality.base import Analyser, FileResult, ToolFailure, count_by, run_command
from codepeft.quality.jvm import JVM_OPTIONS, WRAPPING_ROUTES, JavaInput, find_input, find_java, prepare_java_inputs
from codepeft.quality.sources import SourceFile

DEBIAN_JAR = Path("/usr/share/java/checkstyle.jar")
CHECKSTYLE_INSTALL = "apt-get install checkstyle"
# The study's eleven categories (Checkstyle's check packages), then two it dropped: "sizes"
# (LineLength, MethodLength, ParameterNumber, ...) and "misc" (checks in no package, e.g.
# NewlineAtEndOfFile, FinalParameters, TodoComment, plus indentation and header).
CATEGORIES = ("annotation", "blocks", "coding", "design", "imports", "javadoc", "metrics", "modifiers",
              "naming", "regexp", "whitespace", "sizes", "misc")
_PACKAGE_ALIASES = {"modifier": "modifiers"}  # the package is singular, the documented category plural
REMOVED_CHECKS = ("JavadocPackage", "OuterTypeFilename")
_CHECK_CLASS = re.compile(r"com/puppycrawl/tools/checkstyle/checks/(?:(\w+)/)?(\w+)Check\.class$")
_CHECKER = "com.puppycrawl.tools.checkstyle.Checker"
_SEALED = re.compile(r"\b(?:non-)?sealed\s+(?:\w+\s+)*(?:class|interface)\b|\bpermits\s+\w")
SEALED_LIMIT = "Checkstyle {version} cannot parse Java 17 sealed classes (support arrived in 8.42)"
# The study's category -> rules table (analysis_PMD_checkstyle.py, run_checkstyle_analysis): a violation
# counts in the first category that lists its rule, and not at all when none does.
STUDY_RULES: dict[str, tuple[str, ...]] = {
    "annotation": ("AnnotationLocation", "AnnotationOnSameLine", "AnnotationUseStyle", "MissingDeprecated",
                   "MissingOverride", "PackageAnnotation"),
    "blocks": ("AvoidNestedBlocks", "EmptyBlock", "EmptyCatchBlock", "LeftCurly", "NeedBraces", "RightCurly"),
    "coding": ("ArrayTrailingComma", "AvoidDoubleBraceInitialization", "AvoidInlineConditionals",
               "AvoidNoArgumentSuperConstructorCall", "ConstructorsDeclarationGrouping", "CovariantEquals",
               "DeclarationOrder", "DefaultComesLast", "EmptyStatement", "EqualsAvoidNull", "EqualsHashCode",
               "ExplicitInitialization", "FallThrough", "FinalLocalVariable", "HiddenField", "IllegalCatch",
               "IllegalInstantiation", "IllegalThrows", "IllegalToken", "IllegalTokenText", "IllegalType",
               "InnerAssignment", "MagicNumber", "MatchXpath", "MissingCtor", "MissingNullCaseInSwitch",
               "MissingSwitchDefault", "ModifiedControlVariable", "MultipleStringLiterals",
               "MultipleVariableDeclarations", "NestedForDepth", "NestedIfDepth", "NestedTryDepth",
               "NoArrayTrailingComma", "NoClone", "NoEnumTrailingComma", "NoFinalizer", "OneStatementPerLine",
               "OverloadMethodsDeclarationOrder", "PackageDeclaration", "ParameterAssignment", "RequireThis",
               "ReturnCount", "SimplifyBooleanExpression", "SimplifyBooleanReturn", "StringLiteralEquality",
               "SuperClone", "SuperFinalize", "UnnecessaryParentheses",
               "UnnecessarySemicolonAfterOuterTypeDeclaration", "UnnecessarySemicolonAfterTypeMemberDeclaration",
               "UnnecessarySemicolonInEnumeration", "UnnecessarySemicolonInTryWithResources",
               "UnusedCatchParameterShouldBeUnnamed", "UnusedLambdaParameterShouldBeUnnamed", "UnusedLocalVariable",
               "VariableDeclarationUsageDistance", "WhenShouldBeUsed"),
    "design": ("DesignForExtension", "FinalClass", "HideUtilityClassConstructor", "InnerTypeLast", "InterfaceIsType",
               "MutableException", "OneTopLevelClass", "SealedShouldHavePermitsList", "ThrowsCount",
               "VisibilityModifier"),
    "imports": ("AvoidStarImport", "AvoidStaticImport", "CustomImportOrder", "IllegalImport", "ImportControl",
                "ImportOrder", "RedundantImport", "UnusedImports"),
    "javadoc": ("AtclauseOrder", "InvalidJavadocPosition", "JavadocBlockTagLocation", "JavadocContentLocation",
                "JavadocLeadingAsteriskAlign", "JavadocMethod", "JavadocMissingLeadingAsterisk",
                "JavadocMissingWhitespaceAfterAsterisk", "JavadocPackage", "JavadocParagraph", "JavadocStyle",
                "JavadocTagContinuationIndentation", "JavadocType", "JavadocVariable", "MissingJavadocMethod",
                "MissingJavadocPackage", "MissingJavadocType", "NonEmptyAtclauseDescription",
                "RequireEmptyLineBeforeBlockTagGroup", "SingleLineJavadoc", "SummaryJavadoc", "WriteTag"),
    "metrics": ("BooleanExpressionComplexity", "ClassDataAbstractionCoupling", "ClassFanOutComplexity",
                "CyclomaticComplexity", "JavaNCSS", "NPathComplexity"),
    "modifiers": ("ClassMemberImpliedModifier", "InterfaceMemberImpliedModifier", "ModifierOrder", "RedundantModifier"),
    "naming": ("AbbreviationAsWordInName", "AbstractClassName", "CatchParameterName", "ClassTypeParameterName",
               "ConstantName", "IllegalIdentifierName", "InterfaceTypeParameterName", "LambdaParameterName",
               "LocalFinalVariableName", "LocalVariableName", "MemberName", "MethodName", "MethodTypeParameterName",
               "PackageName", "ParameterName", "PatternVariableName", "RecordComponentName", "RecordTypeParameterName",
               "StaticVariableName", "TypeName"),
    "regexp": ("Regexp", "RegexpMultiline", "RegexpOnFilename", "RegexpSingleline", "RegexpSinglelineJava"),
    "whitespace": ("EmptyForInitializerPad", "EmptyForIteratorPad", "EmptyLineSeparator", "FileTabCharacter",
                   "GenericWhitespace", "MethodParamPad", "NoLineWrap", "NoWhitespaceAfter", "NoWhitespaceBefore",
                   "NoWhitespaceBeforeCaseDefaultColon", "OperatorWrap", "ParenPad", "SeparatorWrap",
                   "SingleSpaceSeparator", "TypecastParenPad", "WhitespaceAfter", "WhitespaceAround"),
}
STUDY_CATEGORY_OF_RULE = {rule: category for category, rules in reversed(STUDY_RULES.items()) for rule in rules}
_CONFIG_PROBLEMS = ("unable to parse configuration", "cannot initialize module", "Unable to create Root Module",
                    "Property '", "Unable to instantiate")


def checkstyle_launcher() -> tuple[list[str], Path]:
    """The command that runs Checkstyle and the jar it runs (for its version and bundled configurations)."""
    configured = os.environ.get("CHECKSTYLE_JAR")
    if configured:
        jar = Path(configured)
        if not jar.is_file():
            raise UserError(f"CHECKSTYLE_JAR={jar} does not exist; point it to a checkstyle-*-all.jar or unset it "
                            f"to use Debian's ({CHECKSTYLE_INSTALL})")
        return [find_java(), *JVM_OPTIONS, "-jar", str(jar)], jar
    command = shutil.which("checkstyle")
    if command is None or not DEBIAN_JAR.is_file():
        raise UserError(f"Checkstyle not found: install it with `{CHECKSTYLE_INSTALL}`, "
                        "or set CHECKSTYLE_JAR to a checkstyle-*-all.jar")
    find_java()
    return [command], DEBIAN_JAR.resolve()


def jar_version(jar: Path) -> str:
    with zipfile.ZipFile(jar) as archive:
        manifest = archive.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    match = re.search(r"Implementation-Version:\s*(\S+)", manifest)
    return match.group(1) if match else jar.name


def load_config(config: str, jar: Path, removed: tuple[str, ...] = REMOVED_CHECKS) -> str:
    """The text of ``sun``/``google`` (from the jar) or of a configuration file, adapted for batching
    (``removed`` checks taken out, ``haltOnException`` off)."""
    if config in ("sun", "google"):
        with zipfile.ZipFile(jar) as archive:
            text = archive.read(f"{config}_checks.xml").decode("utf-8")
    else:
        path = Path(config)
        if not path.is_file():
            raise UserError(f"--checkstyle_config {config}: not 'sun', 'google' or an existing XML file")
        text = path.read_text(encoding="utf-8")
    for module in removed:
        text = re.sub(rf'\s*<module\s+name\s*=\s*"{module}"\s*/>', "", text)
        text = re.sub(rf'\s*<module\s+name\s*=\s*"{module}"\s*>.*?</module>', "", text, flags=re.DOTALL)
    text = re.sub(r'\s*<property\s+name\s*=\s*"haltOnException"[^>]*/>', "", text)
    text, found = re.subn(r'(<module\s+name\s*=\s*"Checker"\s*>)', r'\1\n  <property name="haltOnException" value="false"/>',
                          text, count=1)
    if not found:
        raise UserError(f"--checkstyle_config {config}: no <module name=\"Checker\"> root module")
    return text


@cache
def check_packages(jar: Path) -> dict[str, str]:
    """Check name -> its package in the jar (``WhitespaceAround`` -> ``whitespace``; '' for the top package)."""
    with zipfile.ZipFile(jar) as archive:
        names = archive.namelist()
    return {match.group(2): match.group(1) or "" for match in map(_CHECK_CLASS.match, names) if match}


def module_ids(config_text: str) -> dict[str, str]:
    """Module id -> module name: Checkstyle reports a check by its id when the configuration gives one."""
    ids = {}
    for module in ET.fromstring(config_text.encode("utf-8")).iter("module"):
        for prop in module.findall("property"):
            if prop.get("name") == "id" and prop.get("value"):
                ids[prop.get("value")] = module.get("name", "")
    return ids


def category_and_rule(source: str, ids: dict[str, str], packages: dict[str, str]) -> tuple[str, str]:
    """``("whitespace", "WhitespaceAround")`` from a report's ``source`` (a check class or a module id)."""
    name = source.rsplit(".", 1)[-1].removesuffix("Check") if source.startswith("com.puppycrawl.") else ids.get(source, source)
    package = packages.get(name, "")
    package = _PACKAGE_ALIASES.get(package, package)
    return (package if package in CATEGORIES else "misc"), name


class CheckstyleAnalyser(Analyser):
    """Violations per Checkstyle category with the Sun (default) or Google checks."""

    name = "checkstyle"
    languages = ("java",)
    columns = CATEGORIES
    min_chunk = 100  # a Checkstyle JVM takes about 1.5 s of CPU to start, a file about 0.02 s

    def __init__(self, per_file: bool = False, protocol: str = "default", config: str = "sun", wrap: bool = True,
                 study_wrapper: str = "generation"):
        super().__init__(per_file, protocol)
        if self.study and (config != "sun" or not wrap):
            raise UserError("--protocol study runs the study's Sun checks on the study's wrapped files; "
                            "drop --checkstyle_config/--no_wrap or use --protocol default")
        self.config = config
        self.wrap = wrap
        self.study_wrapper = study_wrapper if self.study else None
        self.removed = () if self.study else REMOVED_CHECKS
        if self.study:
            self.columns = tuple(STUDY_RULES)
        self._config_text: str | None = None

    def settings(self) -> dict[str, Any]:
        _, jar = checkstyle_launcher()
        route = "study" if self.study else "parser" if self.wrap else "none"
        settings = {"checkstyle": jar_version(jar), "config": self.config, "removed_checks": list(self.removed),
                    "wrapping": WRAPPING_ROUTES[route], "unparsable_files": "0" if self.study else "empty",
                    "categories": "the study's rule list" if self.study else "the check's package"}
        if self.study_wrapper:
            settings["study_wrapper"] = self.study_wrapper
        return settings

    def check_available(self) -> None:
        _, jar = checkstyle_launcher()
        self._config_text = load_config(self.config, jar, self.removed)

    def categorise(self, source: str, ids: dict[str, str], packages: dict[str, str]) -> tuple[str | None, str]:
        """``(category, rule)`` of a report's ``source``; the category is None when the protocol does not count it."""
        category, rule = category_and_rule(source, ids, packages)
        return (STUDY_CATEGORY_OF_RULE.get(rule), rule) if self.study else (category, rule)

    def problem_result(self, target: JavaInput, problems: list[dict[str, str]], raw: list[Any]) -> FileResult:
        """The row of a file Checkstyle could not parse (a known limit gets its own status)."""
        task_id, message = target.source.task_id, problems[0].get("message", "")
        detail = message.split("\n")[0][:300]
        status = "parse_error" if "while parsing" in message else "tool_error"
        if status == "parse_error" and _SEALED.search(target.source.text or ""):
            status, detail = "unsupported_sealed_class", SEALED_LIMIT.format(version=self.settings()["checkstyle"])
        if self.study:
            return self.study_zero(task_id, status, detail, raw)
        return FileResult(task_id, status, dict.fromkeys(self.columns), records=raw, detail=detail)

    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        launcher, jar = checkstyle_launcher()
        if self._config_text is None:
            self._config_text = load_config(self.config, jar, self.removed)
        chunk = files[0].path.stem  # a safe file name; ids may hold '/'
        config_path = workdir / f"checkstyle-config-{chunk}.xml"
        config_path.write_text(self._config_text, encoding="utf-8")
        report_path = workdir / f"checkstyle-report-{chunk}.xml"
        inputs = prepare_java_inputs(files, workdir, self.wrap, self.study_wrapper)
        ids, packages = module_ids(self._config_text), check_packages(jar)
        cmd = [*launcher, "-c", str(config_path), "-f", "xml", "-o", str(report_path),
               *(str(i.tool_path) for i in inputs.values())]
        env = {**os.environ, "JAVA_ARGS": " ".join(JVM_OPTIONS)}  # read by Debian's checkstyle script
        completed = run_command(cmd, timeout, accept=lambda rc: True, cwd=workdir, env=env, name="Checkstyle")  # status = violation count
        try:
            root = ET.parse(report_path).getroot()
        except (OSError, ET.ParseError):
            message = (completed.stderr or completed.stdout).strip()
            if any(problem in message for problem in _CONFIG_PROBLEMS):
                raise UserError(f"Checkstyle rejected the configuration {self.config}: {message.splitlines()[0]}") from None
            tail = " | ".join(message.splitlines()[-3:])
            raise ToolFailure("tool_error", f"Checkstyle wrote no readable report (status {completed.returncode}): {tail}") from None

        results: dict[str, FileResult] = {}
        for element in root.iter("file"):
            target = find_input(inputs, element.get("name", ""), workdir)
            if target is None:
                continue  # Checkstyle also lists non-Java files it was not asked about (none here)
            counted, on_wrapper, problems = [], [], []
            for error in element.iter("error"):
                record = dict(error.attrib)
                if record.get("source") == _CHECKER:
                    problems.append(record)
                    continue
                line = None if target.study_wrapped else target.original_line(int(record.get("line", "0")))
                if line is None and "column" in record and not target.study_wrapped:  # about the wrapper class itself
                    on_wrapper.append(record)
                    continue
                record["line"] = str(line) if line is not None else record.get("line")
                record["category"], record["rule"] = self.categorise(record.get("source", ""), ids, packages)
                counted.append(record)
            task_id = target.source.task_id
            raw = [{"violations": counted, "on_wrapper_lines": on_wrapper, "errors": problems}]
            if problems:
                results[task_id] = self.problem_result(target, problems, raw)
                continue
            results[task_id] = FileResult(
                task_id, target.status, dict(count_by([r["category"] for r in counted], self.columns)),
                violations=[(r["category"] or "not counted", r["rule"]) for r in counted], records=raw)
        if len(results) != len(files):
            raise ToolFailure("tool_error", f"Checkstyle reported {len(results)} of {len(files)} files")
        return results
