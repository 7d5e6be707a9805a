"""Remove comments from source text, language-aware: a `//` or `#` inside a string survives."""

from __future__ import annotations

SLASH_LANGUAGES = frozenset(
    {"c", "cpp", "c++", "h", "hpp", "java", "javascript", "js", "typescript", "ts", "go", "rust",
     "rs", "csharp", "cs", "c#", "kotlin", "kt", "swift", "scala", "dart", "php"}
)  # fmt: skip
HASH_LANGUAGES = frozenset(
    {"python", "py", "yaml", "yml", "toml", "sh", "bash", "shell", "ruby", "rb", "perl", "r",
     "makefile", "dockerfile", "conf", "ini"}
)  # fmt: skip


def strip_comments(text: str, language: str) -> str | None:
    """The text without comments, or None when the language's comment syntax is unknown."""
    lang = language.lower()
    if lang in SLASH_LANGUAGES:
        quotes = (
            ('"', "'", "`")
            if lang in ("javascript", "js", "typescript", "ts", "go")
            else ('"', "'")
        )
        return _strip(text, quotes, line="//", block=("/*", "*/"))
    if lang in HASH_LANGUAGES:
        triple = lang in ("python", "py")
        return _strip(text, ('"', "'"), line="#", block=None, triple=triple)
    return None


def _strip(
    text: str,
    quotes: tuple[str, ...],
    line: str,
    block: tuple[str, str] | None,
    triple: bool = False,
) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if triple and text.startswith(('"""', "'''"), i):
            end = text.find(text[i : i + 3], i + 3)
            end = n if end < 0 else end + 3
            out.append(text[i:end])
            i = end
        elif text[i] in quotes:
            j = i + 1
            while j < n and text[j] != text[i]:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and text[i] != "`":
                    break  # an unterminated string ends at the line
                j += 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith(line, i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif block is not None and text.startswith(block[0], i):
            end = text.find(block[1], i + len(block[0]))
            i = n if end < 0 else end + len(block[1])
            out.append(" ")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
