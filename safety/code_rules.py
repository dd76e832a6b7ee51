"""The code scanner's regex rule table (the Python rules that need the syntax tree live in code_shield.py).

Each rule: a pattern id, the CWE it belongs to, the languages it applies to ("any" = every language,
because a destructive shell command is as dangerous inside `os.system("...")` as in a shell script), a
treatment (`block`: never run this; `warn`: insecure practice, run it but say so) and a description.

Treatments: code that destroys data or hands the machine to someone else (recursive delete of system
paths, formatting or overwriting disks, fork bombs, reverse shells, piping a download into a shell,
private keys) blocks; insecure practices (weak hashes and ciphers, disabled TLS checks, world-writable
permissions, hard-coded credentials, SQL built from strings, eval of data) warn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["LANGUAGES", "REGEX_RULES", "RegexRule", "Treatment"]

Treatment = Literal["block", "warn"]
LANGUAGES = ("python", "shell", "javascript", "sql")


@dataclass(frozen=True)
class RegexRule:
    pattern_id: str
    cwe_id: str
    languages: tuple[str, ...]  # ("any",) = all
    treatment: Treatment
    description: str
    regex: re.Pattern[str]


def _rule(
    pattern_id: str,
    cwe: str,
    languages: str,
    treatment: Treatment,
    description: str,
    pattern: str,
    flags: int = 0,
) -> RegexRule:
    return RegexRule(
        pattern_id, cwe, tuple(languages.split()), treatment, description, re.compile(pattern, flags)
    )


# System locations whose recursive deletion wrecks the machine.
_ROOTS = r"(?:/|/\*|~/?|\$HOME/?|\$\{HOME\}/?|/(?:bin|boot|dev|etc|home|lib|lib64|opt|proc|root|sbin|srv|sys|usr|var)/?\*?)"
_RM_FLAGS = (
    r"(?:-[a-zA-Z]*[rR][a-zA-Z]*\s+|--recursive\s+|-[a-zA-Z]*f[a-zA-Z]*\s+|--force\s+|--no-preserve-root\s+)+"
)
_DISK = r"/dev/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d+n\d+|mmcblk\d+|disk\d+|md\d+)"

REGEX_RULES: tuple[RegexRule, ...] = (
    # -- destructive / malicious commands (any language: they also hide in strings) --
    _rule(
        "SH-RM-ROOT",
        "CWE-506",
        "any",
        "block",
        "recursive forced delete of the root, home or a system directory",
        rf"\brm\s+{_RM_FLAGS}(?:--\s+)?[\"']?{_ROOTS}[\"']?(?=\s|$|[;&|\"'`)])",
    ),
    _rule(
        "SH-RM-NO-PRESERVE-ROOT",
        "CWE-506",
        "any",
        "block",
        "rm with --no-preserve-root",
        r"\brm\b[^\n]*--no-preserve-root",
    ),
    _rule(
        "SH-MKFS", "CWE-506", "any", "block", "formats a disk or partition", r"\bmkfs(?:\.\w+)?\b[^\n]*?/dev/"
    ),
    _rule(
        "SH-DD-DISK",
        "CWE-506",
        "any",
        "block",
        "dd writing onto a raw disk device",
        rf"\bdd\b[^\n;|&]*\bof={_DISK}",
    ),
    _rule(
        "SH-REDIRECT-DISK",
        "CWE-506",
        "any",
        "block",
        "output redirected onto a raw disk device",
        rf">\s*{_DISK}\b",
    ),
    _rule(
        "SH-WIPE-DISK",
        "CWE-506",
        "any",
        "block",
        "wipes a disk device (shred / wipefs / blkdiscard)",
        rf"\b(?:shred|wipefs|blkdiscard)\b[^\n]*{_DISK}",
    ),
    _rule(
        "SH-FORK-BOMB",
        "CWE-400",
        "any",
        "block",
        "fork bomb (a function that pipes itself into itself in the background)",
        r"(?P<f>[\w:.]+)\s*\(\)\s*\{\s*(?P=f)\s*\|\s*(?P=f)\s*&\s*\}\s*;\s*(?P=f)",
    ),
    _rule(
        "SH-REVERSE-SHELL-DEVTCP",
        "CWE-506",
        "any",
        "block",
        "shell wired to a network socket through /dev/tcp or /dev/udp",
        r"/dev/(?:tcp|udp)/[\w.\-]+/\d+",
    ),
    _rule(
        "SH-REVERSE-SHELL-NC",
        "CWE-506",
        "any",
        "block",
        "netcat executing a program for the remote end (-e / -c)",
        r"\b(?:nc|ncat|netcat)\b[^\n|;]*\s-(?:[a-zA-Z]*[ec])\s*\S",
    ),
    _rule(
        "SH-REVERSE-SHELL-FIFO",
        "CWE-506",
        "any",
        "block",
        "a named pipe feeding a shell from netcat",
        r"\bmkfifo\b[^\n]*\|[^\n]*\b(?:nc|ncat|netcat)\b|\b(?:nc|ncat|netcat)\b[^\n]*\|\s*/bin/(?:ba)?sh\b",
    ),
    _rule(
        "SH-REVERSE-SHELL-SOCAT",
        "CWE-506",
        "any",
        "block",
        "socat exposing a shell",
        r"\bsocat\b[^\n]*\bexec:[\"']?(?:/bin/)?(?:ba|z)?sh\b",
        re.IGNORECASE,
    ),
    _rule(
        "PY-REVERSE-SHELL",
        "CWE-506",
        "any",
        "block",
        "socket file descriptors duplicated onto stdin/stdout (reverse shell)",
        r"\bdup2\s*\(\s*[\w.]+\.fileno\(\)\s*,\s*[012]\s*\)",
    ),
    _rule(
        "SH-CURL-PIPE-SHELL",
        "CWE-494",
        "any",
        "block",
        "downloaded script piped straight into an interpreter",
        r"\b(?:curl|wget)\b[^\n|]*\|\s*(?:sudo\s+)?(?:(?:ba|z|da|k)?sh|python3?|perl|ruby|node)\b",
    ),
    _rule(
        "SH-DECODE-PIPE-SHELL",
        "CWE-506",
        "any",
        "block",
        "decoded (hidden) text piped into a shell",
        r"\b(?:base64\s+(?:-d|--decode)|xxd\s+-r|openssl\s+(?:base64|enc)\s+-d)\b[^\n]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b",
    ),
    _rule(
        "SH-FIND-DELETE-ROOT",
        "CWE-506",
        "any",
        "block",
        "find deleting everything under the root or home",
        r"\bfind\s+(?:/|~|\$HOME)\s[^\n]*-delete\b",
    ),
    _rule(
        "SH-CHMOD-777",
        "CWE-732",
        "any",
        "warn",
        "world-writable permissions",
        r"\bchmod\s+(?:-[a-zA-Z]+\s+)*(?:0?777|a\+rwx|ugo\+rwx|o\+w)\b",
    ),
    _rule(
        "SH-TLS-INSECURE",
        "CWE-295",
        "shell",
        "warn",
        "TLS certificate checks disabled (curl -k / wget --no-check-certificate)",
        r"\bcurl\b[^\n]*\s(?:-k|--insecure)\b|\bwget\b[^\n]*--no-check-certificate",
    ),
    _rule("SH-SHADOW-READ", "CWE-200", "any", "warn", "reads the system password hashes", r"/etc/shadow\b"),
    _rule(
        "SH-HISTORY-WIPE",
        "CWE-117",
        "shell",
        "warn",
        "erases shell history (hiding tracks)",
        r"\bhistory\s+-c\b|\bunset\s+HISTFILE\b|>\s*~/\.bash_history\b",
    ),
    # -- secrets (language agnostic) --
    _rule(
        "SECRET-PRIVATE-KEY",
        "CWE-798",
        "any",
        "block",
        "private key embedded in the code",
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----",
    ),
    _rule("SECRET-AWS-KEY", "CWE-798", "any", "warn", "AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    _rule("SECRET-GITHUB-TOKEN", "CWE-798", "any", "warn", "GitHub token", r"\bgh[pousr]_[0-9A-Za-z]{36}\b"),
    _rule("SECRET-SLACK-TOKEN", "CWE-798", "any", "warn", "Slack token", r"\bxox[abprs]-[0-9A-Za-z-]{10,}"),
    _rule(
        "SECRET-STRIPE-KEY",
        "CWE-798",
        "any",
        "warn",
        "Stripe live secret key",
        r"\b[sr]k_live_[0-9A-Za-z]{16,}",
    ),
    _rule("SECRET-GOOGLE-KEY", "CWE-798", "any", "warn", "Google API key", r"\bAIza[0-9A-Za-z\-_]{35}\b"),
    _rule(
        "SECRET-ASSIGNMENT",
        "CWE-798",
        "shell javascript",
        "warn",
        "hard-coded credential",
        r"""(?i)\b(?:export\s+)?(?:const\s+|let\s+|var\s+)?[\w]*(?:password|passwd|secret|api_?key|token)\w*\s*[:=]\s*["'](?![\s"']|\$\{|<|your|xxx|changeme|example)[^"'\s]{8,}["']""",
    ),
    # -- JavaScript --
    _rule(
        "JS-EVAL",
        "CWE-95",
        "javascript",
        "warn",
        "eval / new Function on a non-literal",
        r"\beval\s*\(\s*(?![\"'`][^\"'`]*[\"'`]\s*\))|\bnew\s+Function\s*\(",
    ),
    _rule(
        "JS-CHILD-PROCESS-EXEC",
        "CWE-78",
        "javascript",
        "warn",
        "child_process exec with a built command",
        r"\b(?:exec|execSync)\s*\(\s*(?:`[^`]*\$\{|[\"'][^\"']*[\"']\s*\+|[A-Za-z_$][\w$]*\s*[,)])",
    ),
    _rule(
        "JS-TLS-REJECT-UNAUTHORIZED",
        "CWE-295",
        "javascript",
        "warn",
        "TLS certificate checks disabled",
        r"rejectUnauthorized\s*:\s*false|NODE_TLS_REJECT_UNAUTHORIZED[\"']?\]?\s*=\s*[\"']?0",
    ),
    _rule(
        "JS-INNER-HTML",
        "CWE-79",
        "javascript",
        "warn",
        "HTML injected from a variable (XSS)",
        r"\.(?:innerHTML|outerHTML)\s*=\s*(?![\"'`][^\"'`$]*[\"'`]\s*;?\s*$)|\bdocument\.write\s*\(",
        re.MULTILINE,
    ),
    _rule(
        "JS-WEAK-HASH",
        "CWE-328",
        "javascript",
        "warn",
        "MD5 / SHA-1 hash",
        r"createHash\s*\(\s*[\"'](?:md5|sha1)[\"']",
    ),
    _rule(
        "JS-WEAK-CIPHER",
        "CWE-327",
        "javascript",
        "warn",
        "broken cipher (DES, RC4) or ECB mode",
        r"createCipheriv?\s*\(\s*[\"'](?:des[\w-]*|rc4[\w-]*|[\w-]*-ecb)[\"']",
        re.IGNORECASE,
    ),
    # -- SQL --
    _rule(
        "SQL-DROP",
        "CWE-506",
        "sql",
        "block",
        "drops a database or schema",
        r"\bDROP\s+(?:DATABASE|SCHEMA)\b",
        re.IGNORECASE,
    ),
    _rule(
        "SQL-DROP-TABLE",
        "CWE-710",
        "sql",
        "warn",
        "drops or truncates a table",
        r"\b(?:DROP\s+TABLE|TRUNCATE\s+(?:TABLE\s+)?\w)",
        re.IGNORECASE,
    ),
    _rule(
        "SQL-GRANT-ALL", "CWE-269", "sql", "warn", "grants every privilege", r"\bGRANT\s+ALL\b", re.IGNORECASE
    ),
)
