"""A static scanner for code the model wants to run: insecure or dangerous patterns, each with a CWE id.

    ```python
    result = scan_code("import hashlib\\nh = hashlib.md5(pw).hexdigest()")
    result.treatment, [(f.pattern_id, f.cwe_id, f.line) for f in result.findings]
    # -> ('warn', [('PY-WEAK-HASH', 'CWE-328', 2)])
    verdict = await CodeShield().check(messages, touchpoint="tool_input")
    ```

Languages: Python (read through its syntax tree, so aliases like `import subprocess as sp` and
`from os import system` are followed, and only non-constant arguments count as injection), shell,
JavaScript and SQL (regular expressions, `code_rules.py`). The language is taken from the tool
(`code_interpreter` runs Python), a code fence's tag, or guessed (`detect_language`). Destructive and
malicious commands (rm -rf /, mkfs, dd onto a disk, fork bombs, reverse shells, curl | sh) and
credentials are looked for in every language: they are as dangerous inside `os.system("...")`.

Treatment: `block` when any finding blocks (it damages the machine or hands it over), else `warn` when
anything was found, else `none`. A hit on a line whose text before it starts a comment (`#`, `//`,
`--`, `/*`) is ignored for the regex rules. Where the shield looks, per touchpoint: tool_input scans
the code and command arguments of the tool calls; every other touchpoint scans fenced code blocks
(```python ... ```) in the last message.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

from llamasys.core_model.messages import AssistantMessage, BuiltinTool

from .code_rules import LANGUAGES, REGEX_RULES, Treatment
from .shield import Shield
from .verdict import OnViolation, Refusals, ShieldVerdict, Touchpoint

__all__ = ["CodeFinding", "CodeScanResult", "CodeShield", "detect_language", "scan_code"]


class CodeFinding(BaseModel):
    pattern_id: str
    cwe_id: str
    description: str
    line: int = Field(description="1-based line in the scanned code")
    treatment: Treatment
    language: str
    snippet: str = Field("", description="the line the finding is on")


class CodeScanResult(BaseModel):
    language: str
    findings: list[CodeFinding] = Field(default_factory=list)

    @property
    def treatment(self) -> Literal["block", "warn", "none"]:
        if any(f.treatment == "block" for f in self.findings):
            return "block"
        return "warn" if self.findings else "none"

    @property
    def is_insecure(self) -> bool:
        return bool(self.findings)


# -- language ------------------------------------------------------------------------------------

_PY_SIGNS = (
    ast.Call,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.For,
    ast.While,
    ast.If,
    ast.With,
    ast.Try,
    ast.Return,
    ast.Lambda,
)
_SQL_START = re.compile(
    r"^\s*(?:SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|GRANT|REVOKE|TRUNCATE|WITH)\b", re.I | re.M
)
_JS_SIGNS = re.compile(
    r"\b(?:const|let|var)\s+[\w$]+\s*=|=>|\bfunction\b\s*[\w$]*\s*\(|\bconsole\.\w+\(|\brequire\(\s*['\"]|\bdocument\."
)


def detect_language(code: str) -> str:
    """python, shell, javascript or sql: a shebang, then Python's parser, then tell-tale keywords."""
    first = code.lstrip().split("\n", 1)[0]
    if first.startswith("#!"):
        for lang, marks in (
            ("python", ("python",)),
            ("javascript", ("node",)),
            ("shell", ("sh", "bash", "zsh")),
        ):
            if any(m in first for m in marks):
                return lang
    try:
        tree = ast.parse(code)
        if any(isinstance(n, _PY_SIGNS) for n in ast.walk(tree)):
            return "python"
    except (SyntaxError, ValueError):
        pass
    if _SQL_START.search(code):
        return "sql"
    if _JS_SIGNS.search(code):
        return "javascript"
    return "shell"


# -- regex rules ---------------------------------------------------------------------------------

_COMMENT_STARTS = ("#", "//", "--", "/*")


def _in_comment(code: str, pos: int, language: str) -> bool:
    line_start = code.rfind("\n", 0, pos) + 1
    before = code[line_start:pos].strip()
    if language == "shell" and before.startswith("#!"):
        return False
    starts = ("#",) if language in ("python", "shell") else _COMMENT_STARTS
    return before.startswith(starts) or before.endswith("*/")


def _line_of(code: str, pos: int) -> int:
    return code.count("\n", 0, pos) + 1


def _finding(
    lines: list[str],
    line: int,
    pattern_id: str,
    cwe_id: str,
    description: str,
    treatment: Treatment,
    language: str,
) -> CodeFinding:
    """A finding on 1-based `line` of the scanned code (split into `lines`), that line as its snippet."""
    snippet = lines[line - 1].strip() if line <= len(lines) else ""
    return CodeFinding(
        pattern_id=pattern_id,
        cwe_id=cwe_id,
        description=description,
        line=line,
        treatment=treatment,
        language=language,
        snippet=snippet,
    )


def _regex_findings(code: str, language: str) -> list[CodeFinding]:
    lines = code.splitlines()
    out: list[CodeFinding] = []
    for rule in REGEX_RULES:
        if "any" not in rule.languages and language not in rule.languages:
            continue
        for match in rule.regex.finditer(code):
            if _in_comment(code, match.start(), language):
                continue
            line = _line_of(code, match.start())
            out.append(
                _finding(
                    lines, line, rule.pattern_id, rule.cwe_id, rule.description, rule.treatment, language
                )
            )
    return out


_SQL_STATEMENT_NO_WHERE = re.compile(r"^\s*(?:DELETE\s+FROM|UPDATE)\b", re.I)


def _sql_findings(code: str) -> list[CodeFinding]:
    """DELETE / UPDATE statements without a WHERE clause (statement by statement)."""
    lines = code.splitlines()
    out: list[CodeFinding] = []
    pos = 0
    for statement in code.split(";"):
        body = re.sub(r"--[^\n]*", "", statement)
        if _SQL_STATEMENT_NO_WHERE.match(body) and not re.search(r"\bWHERE\b", body, re.I):
            offset = pos + (len(statement) - len(statement.lstrip()))
            line = _line_of(code, offset)
            description = "DELETE or UPDATE of every row (no WHERE clause)"
            out.append(_finding(lines, line, "SQL-NO-WHERE", "CWE-710", description, "warn", "sql"))
        pos += len(statement) + 1
    return out


# -- Python through its syntax tree --------------------------------------------------------------

_WEAK_HASHES = {
    "hashlib.md5",
    "hashlib.sha1",
    "Crypto.Hash.MD5.new",
    "Crypto.Hash.SHA.new",
    "Crypto.Hash.SHA1.new",
    "Cryptodome.Hash.MD5.new",
    "Cryptodome.Hash.SHA1.new",
    "cryptography.hazmat.primitives.hashes.MD5",
    "cryptography.hazmat.primitives.hashes.SHA1",
}
_WEAK_CIPHERS = (
    {
        f"{pkg}.Cipher.{c}.new"
        for pkg in ("Crypto", "Cryptodome")
        for c in ("DES", "DES3", "ARC4", "ARC2", "Blowfish", "XOR", "CAST")
    }
    | {
        f"cryptography.hazmat.primitives.ciphers.algorithms.{c}"
        for c in ("TripleDES", "ARC4", "Blowfish", "IDEA", "CAST5", "SEED")
    }
    | {"cryptography.hazmat.primitives.ciphers.modes.ECB"}
)
_SHELL_CALLS = {
    "os.system",
    "os.popen",
    "os.popen2",
    "os.popen3",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "commands.getoutput",
    "os.execl",
    "os.execlp",
    "os.spawnlp",
    "pty.spawn",
}
_SUBPROCESS = {
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.Popen",
}
_DESERIALIZE = {
    "pickle.load",
    "pickle.loads",
    "pickle.Unpickler",
    "cPickle.load",
    "cPickle.loads",
    "_pickle.loads",
    "dill.load",
    "dill.loads",
    "marshal.load",
    "marshal.loads",
    "jsonpickle.decode",
    "shelve.open",
    "pandas.read_pickle",
    "joblib.load",
}
_YAML_SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}
_SQL_METHODS = {"execute", "executemany", "executescript", "raw", "read_sql", "read_sql_query", "text"}
_SQL_WORDS = re.compile(r"\b(?:SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|VALUES|DROP|CREATE|ALTER)\b", re.I)
_SECRET_NAME = re.compile(
    r"(?i)(?:^|_)(?:password|passwd|pwd|secret|secret_key|client_secret|api_?key|access_?key|auth_?token|access_token|private_key)$"
)
_PLACEHOLDER = re.compile(
    r"(?i)^(?:|x+|\*+|changeme|change_me|password|secret|todo|none|null|dummy|test|example.*|your.*|<.*>|\$\{.*\}|\{.*\})$"
)
_ROOT_PATHS = {
    "/",
    "/*",
    "~",
    "/home",
    "/etc",
    "/usr",
    "/var",
    "/bin",
    "/boot",
    "/lib",
    "/root",
    "/opt",
    "/sys",
}


def _is_constant(node: ast.AST) -> bool:
    """A value fixed in the code: literals, and f-strings / concatenations / % made only of literals."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _is_constant(node.left) and _is_constant(node.right)
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_is_constant(e) for e in node.elts)
    return False


def _string_parts(node: ast.AST) -> str:
    """The literal text inside a (possibly formatted) string expression, for keyword sniffing."""
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def _is_built_string(node: ast.AST) -> bool:
    """A string assembled from non-constant parts: f-string with fields, `%`, `+` or `.format(...)`."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return not _is_constant(node) and bool(_string_parts(node))
    return bool(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
    )


class _PythonScanner(ast.NodeVisitor):
    def __init__(self, code: str) -> None:
        self.lines = code.splitlines()
        self.aliases: dict[str, str] = {}
        self.sql_names: set[str] = set()
        self.findings: list[CodeFinding] = []

    def add(self, node: ast.AST, pattern_id: str, cwe: str, treatment: Treatment, description: str) -> None:
        line = getattr(node, "lineno", 1)
        self.findings.append(_finding(self.lines, line, pattern_id, cwe, description, treatment, "python"))

    # names

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for a in node.names:
            self.aliases[a.asname or a.name] = f"{node.module}.{a.name}" if node.module else a.name

    def dotted(self, node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else node.attr
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return str(node.args[0].value)
        return ""

    # statements

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            name = (
                target.id
                if isinstance(target, ast.Name)
                else target.attr
                if isinstance(target, ast.Attribute)
                else ""
            )
            self._secret(node, name, node.value)
            if (
                isinstance(target, ast.Name)
                and _is_built_string(node.value)
                and _SQL_WORDS.search(_string_parts(node.value))
            ):
                self.sql_names.add(target.id)
            if isinstance(target, ast.Attribute) and target.attr == "check_hostname" and _false(node.value):
                self.add(
                    node, "PY-TLS-NO-HOSTNAME-CHECK", "CWE-295", "warn", "TLS hostname checking turned off"
                )
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "verify_mode"
                and self.dotted(node.value).endswith("CERT_NONE")
            ):
                self.add(
                    node,
                    "PY-TLS-VERIFY-DISABLED",
                    "CWE-295",
                    "warn",
                    "TLS certificate verification turned off",
                )
        self.generic_visit(node)

    def _secret(self, node: ast.AST, name: str, value: ast.AST) -> None:
        if (
            name
            and _SECRET_NAME.search(name)
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
            and len(value.value) >= 6
            and not _PLACEHOLDER.match(value.value)
        ):
            self.add(node, "PY-HARDCODED-SECRET", "CWE-798", "warn", f"hard-coded credential in {name!r}")

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func)
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        first = node.args[0] if node.args else None
        short = name.rsplit(".", 1)[-1]

        weak_hash = name in _WEAK_HASHES or (
            name == "hashlib.new" and first is not None and _str_in(first, {"md5", "sha1"})
        )
        if weak_hash and not _false(kw.get("usedforsecurity")):
            self.add(node, "PY-WEAK-HASH", "CWE-328", "warn", "MD5 / SHA-1 hash (broken for security uses)")
        if name in _WEAK_CIPHERS:
            self.add(node, "PY-WEAK-CIPHER", "CWE-327", "warn", "broken cipher or ECB mode")
        elif any(self.dotted(a).endswith("MODE_ECB") for a in [*node.args, *kw.values()]):
            self.add(node, "PY-WEAK-CIPHER", "CWE-327", "warn", "block cipher in ECB mode")

        if (
            name in ("eval", "exec", "builtins.eval", "builtins.exec")
            and first is not None
            and not _is_constant(first)
        ):
            self.add(node, "PY-EVAL", "CWE-95", "warn", f"{short}() of a value that is not a literal")
        if name in _SHELL_CALLS and first is not None and not _is_constant(first):
            self.add(
                node, "PY-SHELL-INJECTION", "CWE-78", "warn", f"{name}() with a command built at run time"
            )
        if name in _SUBPROCESS and _true(kw.get("shell")) and first is not None and not _is_constant(first):
            self.add(
                node,
                "PY-SHELL-INJECTION",
                "CWE-78",
                "warn",
                f"{name}(shell=True) with a command built at run time",
            )

        if _false(kw.get("verify")):
            self.add(
                node,
                "PY-TLS-VERIFY-DISABLED",
                "CWE-295",
                "warn",
                "TLS certificate verification turned off (verify=False)",
            )
        if name == "ssl._create_unverified_context":
            self.add(node, "PY-TLS-VERIFY-DISABLED", "CWE-295", "warn", "unverified TLS context")

        if name in _DESERIALIZE:
            self.add(
                node,
                "PY-UNSAFE-DESERIALIZATION",
                "CWE-502",
                "warn",
                f"{name}() can run code hidden in the data",
            )
        if name in ("yaml.load", "yaml.load_all"):
            loader = kw.get("Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or self.dotted(loader).rsplit(".", 1)[-1] not in _YAML_SAFE_LOADERS:
                self.add(
                    node,
                    "PY-YAML-LOAD",
                    "CWE-502",
                    "warn",
                    "yaml.load without SafeLoader can build any object",
                )
        if name in ("yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load"):
            self.add(node, "PY-YAML-LOAD", "CWE-502", "warn", f"{name} can build arbitrary objects")

        if (
            short in _SQL_METHODS
            and first is not None
            and (
                (_is_built_string(first) and _SQL_WORDS.search(_string_parts(first)))
                or (isinstance(first, ast.Name) and first.id in self.sql_names)
            )
        ):
            self.add(
                node,
                "PY-SQL-FORMAT",
                "CWE-89",
                "warn",
                "SQL built by string formatting (use query parameters)",
            )

        if name == "tempfile.mktemp":
            self.add(
                node,
                "PY-MKTEMP",
                "CWE-377",
                "warn",
                "tempfile.mktemp is racy (use mkstemp / NamedTemporaryFile)",
            )
        if name == "os.chmod" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            mode = node.args[1].value
            if isinstance(mode, int) and mode & 0o002:
                self.add(
                    node, "PY-CHMOD-WORLD-WRITABLE", "CWE-732", "warn", "world-writable file permissions"
                )
        if name in ("shutil.rmtree", "os.removedirs") and first is not None and _str_in(first, _ROOT_PATHS):
            self.add(
                node,
                "PY-RMTREE-ROOT",
                "CWE-506",
                "block",
                "recursive delete of the root, home or a system directory",
            )

        for k, v in kw.items():
            self._secret(node, k, v)
        self.generic_visit(node)


def _false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _str_in(node: ast.AST, values: Iterable[str]) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.strip().lower() in set(values)
    )


# When Python does not parse (a fragment), fall back to these.
_PY_FALLBACK = (
    ("PY-WEAK-HASH", "CWE-328", r"\bhashlib\.(?:md5|sha1)\s*\(|\bhashlib\.new\s*\(\s*[\"'](?:md5|sha1)[\"']"),
    ("PY-EVAL", "CWE-95", r"\b(?:eval|exec)\s*\(\s*(?![\"'])"),
    ("PY-SHELL-INJECTION", "CWE-78", r"\bshell\s*=\s*True\b|\bos\.system\s*\(\s*(?![\"'][^\"']*[\"']\s*\))"),
    ("PY-TLS-VERIFY-DISABLED", "CWE-295", r"\bverify\s*=\s*False\b|_create_unverified_context"),
    ("PY-UNSAFE-DESERIALIZATION", "CWE-502", r"\b(?:pickle|cPickle|dill|marshal)\.loads?\s*\("),
    ("PY-YAML-LOAD", "CWE-502", r"\byaml\.(?:unsafe_)?load\s*\((?![^)]*Safe)"),
)


def _python_findings(code: str) -> list[CodeFinding]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        lines = code.splitlines()
        return [
            _finding(
                lines,
                _line_of(code, m.start()),
                pattern_id,
                cwe,
                f"{pattern_id} (unparsed code)",
                "warn",
                "python",
            )
            for pattern_id, cwe, regex in _PY_FALLBACK
            for m in re.finditer(regex, code)
            if not _in_comment(code, m.start(), "python")
        ]
    scanner = _PythonScanner(code)
    scanner.visit(tree)
    return scanner.findings


# -- scanning ------------------------------------------------------------------------------------


def scan_code(code: str, language: str | None = None) -> CodeScanResult:
    """Every finding in `code` (language: python, shell, javascript, sql, or None to guess)."""
    lang = (language or detect_language(code)).lower()
    lang = {
        "py": "python",
        "bash": "shell",
        "sh": "shell",
        "zsh": "shell",
        "js": "javascript",
        "node": "javascript",
        "typescript": "javascript",
        "ts": "javascript",
    }.get(lang, lang)
    if lang not in LANGUAGES:
        lang = detect_language(code)
    findings = _regex_findings(code, lang)
    if lang == "python":
        findings += _python_findings(code)
    elif lang == "sql":
        findings += _sql_findings(code)
    seen: set[tuple[str, int]] = set()
    unique = []
    for f in sorted(findings, key=lambda f: (f.line, f.pattern_id)):
        if (f.pattern_id, f.line) not in seen:
            seen.add((f.pattern_id, f.line))
            unique.append(f)
    return CodeScanResult(language=lang, findings=unique)


_FENCE = re.compile(r"```[ \t]*([\w+#-]*)[^\n]*\n(.*?)```", re.S)
_CODE_ARGS = ("code", "command", "cmd", "script", "shell", "sql", "query", "program", "source")


def code_in_message(message: Any, touchpoint: Touchpoint) -> list[tuple[str, str | None]]:
    """(code, language or None) pairs a touchpoint's message carries."""
    if touchpoint == Touchpoint.tool_input and isinstance(message, AssistantMessage):
        found: list[tuple[str, str | None]] = []
        for call in message.tool_calls:
            for key, value in call.arguments.items():
                if isinstance(value, str) and key in _CODE_ARGS:
                    lang = (
                        "python"
                        if call.tool_name == BuiltinTool.code_interpreter.value
                        else ("sql" if key in ("sql",) else None)
                    )
                    found.append((value, lang))
        return found
    text = getattr(message, "content", "") or ""
    return [(body, tag or None) for tag, body in _FENCE.findall(text)]


class CodeShield(Shield):
    """Scans code before it runs (tool_input) or code blocks in a message. Needs no model.

    on_violation applies to blocking findings ("warn" lets even those through, reported); warn-level
    findings always give an allowed verdict at level warn."""

    name = "code_shield"

    def __init__(self, *, on_violation: OnViolation = "block", refusals: Refusals | None = None) -> None:
        super().__init__(on_unavailable="block", on_violation=on_violation, refusals=refusals)

    def scan(self, code: str, language: str | None = None) -> CodeScanResult:
        return scan_code(code, language)

    async def _check(self, messages: list[Any], touchpoint: Touchpoint) -> ShieldVerdict:
        pieces = code_in_message(messages[-1], touchpoint)
        results = [scan_code(code, lang) for code, lang in pieces]
        findings = [f for r in results for f in r.findings]
        details: dict[str, Any] = {
            "scanned": [{"language": r.language, "findings": len(r.findings)} for r in results],
            "findings": [f.model_dump() for f in findings],
        }
        patterns = list(dict.fromkeys(f.pattern_id for f in findings))
        if any(r.treatment == "block" for r in results):
            return self.violation(touchpoint, self.refusals.code_shield, categories=patterns, details=details)
        if findings:
            return ShieldVerdict(
                shield=self.name,
                touchpoint=touchpoint,
                allowed=True,
                level="warn",
                categories=patterns,
                details=details,
            )
        return ShieldVerdict.allow(self.name, touchpoint, details=details)
