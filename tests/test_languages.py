"""The language table against the tools it names: lizard's readers, codebleu's languages, the tree-sitter grammars."""

import pytest

from codepeft.languages import LANGUAGES, canonical, find, lookup, parser, syntax_errors

SAMPLES = {"python": "def f(x):\n    return x + 1\n", "java": "class A { int f(int x) { return x + 1; } }\n",
           "cs": "class A { int F(int x) { return x + 1; } }\n"}


@pytest.mark.parametrize("spelling", ["cs", "CS", " csharp ", "C#", "c_sharp", "c-sharp"])
def test_every_spelling_of_csharp_is_one_language(spelling):
    assert canonical(spelling) == "cs" and find(spelling) is LANGUAGES["cs"]


def test_unknown_languages_are_refused():
    assert find("kotlin") is None
    with pytest.raises(ValueError, match="unknown language 'kotlin'"):
        lookup("kotlin")
    with pytest.raises(ValueError, match="no tree-sitter grammar for 'kotlin'"):
        parser("kotlin")


def test_extensions_are_the_files_of_one_prediction():
    assert {name: language.suffix for name, language in LANGUAGES.items()} == {
        "python": ".py", "java": ".java", "cs": ".cs"}


def test_lizard_names_are_lizards_own():
    import lizard_languages

    known = {name for reader in lizard_languages.languages() for name in reader.language_names}
    assert all(language.lizard in known for language in LANGUAGES.values())
    assert LANGUAGES["cs"].lizard == "csharp"


def test_codebleu_names_are_codebleus_own():
    from codebleu.utils import AVAILABLE_LANGS

    assert all(language.codebleu in AVAILABLE_LANGS for language in LANGUAGES.values())
    assert LANGUAGES["cs"].codebleu == "c_sharp"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_grammar_reads_its_language_and_rejects_broken_code(name):
    assert parser(name).parse(SAMPLES[name].encode()).root_node.type in ("module", "program", "compilation_unit")
    assert syntax_errors(SAMPLES[name], name) == 0
    assert syntax_errors(SAMPLES[name].replace("return", "return )"), name) > 0
    assert parser(name) is parser(LANGUAGES[name].aliases[0] if LANGUAGES[name].aliases else name.upper())
