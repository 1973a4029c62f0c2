"""Low-level helpers for Kaa's configuration: valkey.conf syntax.

This module holds the parts of configuration handling that do not depend on
the parameter table: argument splitting and quoting (the equivalents of
Valkey's ``sdssplitargs`` / ``sdscatrepr``), number parsing with the exact
acceptance rules of Valkey (``memtoull``, ``string2ll``, ``strtoll``), the glob
matcher used by ``CONFIG GET``, reading a configuration source (with ``include``
globs), turning ``valkey-server`` style command-line arguments into
configuration text, and formatting the fatal error report.

Everything here is pure and cheap to import.
"""

from __future__ import annotations

import os
import re

from kaa import VALKEY_VERSION

__all__ = [
    "ConfigError",
    "ConfigFileOpenError",
    "ConfigLoadingError",
    "format_fatal",
    "split_args",
    "quote_arg",
    "needs_quoting",
    "memtoull",
    "string2ll",
    "strtoll_full",
    "strtoll_octal",
    "string2d",
    "has_glob",
    "stringmatch",
    "read_config_source",
    "argv_to_options",
    "format_memory",
    "trim_double",
]

MASK64 = (1 << 64) - 1
LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)


class ConfigError(Exception):
    """A configuration error.

    ``str(err)`` is the Valkey error text: what follows ``ERR`` in a CONFIG SET
    reply, or the reason line of the fatal config-file report.  When raised
    while loading configuration text, ``line_no`` (1-based) and ``line`` (the
    trimmed offending line) locate the error; they are ``None`` for errors not
    tied to a line (post-load sanity checks, unreadable files).
    """

    def __init__(self, message: str = "", *, line_no: int | None = None,
                 line: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line_no = line_no
        self.line = line

    def __str__(self) -> str:
        return self.message

    def fatal_report(self) -> str:
        """The full fatal report, as valkey-server prints it to stderr."""
        return format_fatal(self, self.line_no, self.line)


class ConfigFileOpenError(ConfigError):
    """A configuration file (or ``include``) could not be opened.

    Valkey logs this as ``Fatal error, can't open config file '<path>': <reason>``
    (a log line, not the FATAL CONFIG FILE ERROR block) and exits.
    """


class ConfigLoadingError(ConfigError):
    """CONFIG SET of a DENY_LOADING config while the dataset is loading.

    ``str(err)`` is the complete error line *without* an ``ERR`` prefix:
    ``LOADING Valkey is loading the dataset in memory``.
    """

    def __init__(self, title: str = "Valkey") -> None:
        super().__init__(f"LOADING {title} is loading the dataset in memory")


def format_fatal(err: object, line_no: int | None, line: str | None,
                 version: str = VALKEY_VERSION) -> str:
    """Valkey's fatal config report (``loadServerConfigFromString`` ``loaderr``).

    Returns exactly what valkey-server writes to stderr before ``exit(1)``::

        \\n*** FATAL CONFIG FILE ERROR (Version 8.0.2) ***\\n
        Reading the configuration file, at line N\\n
        >>> 'the line'\\n
        the reason\\n

    The two location lines are omitted when ``line_no`` is ``None`` (errors
    detected after all lines were read).
    """
    out = [f"\n*** FATAL CONFIG FILE ERROR (Version {version}) ***\n"]
    if line_no is not None:
        out.append(f"Reading the configuration file, at line {line_no}\n")
        out.append(f">>> '{line if line is not None else ''}'\n")
    out.append(f"{err}\n")
    return "".join(out)


# ---------------------------------------------------------------------------
# Argument splitting / quoting
# ---------------------------------------------------------------------------

_C_SPACE = " \t\n\r\v\f"  # isspace() in the C locale
_HEX = "0123456789abcdefABCDEF"
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}


def split_args(line: str) -> list[str] | None:
    """Split a line into arguments like Valkey's ``sdssplitargs``.

    Double quotes support ``\\n \\r \\t \\b \\a \\xHH`` and ``\\<any>``
    escapes; single quotes support only ``\\'``.  A closing quote must be
    followed by whitespace or the end of the line.  Returns ``None`` on
    unbalanced quotes.  ``\\xHH`` yields ``chr(0xHH)``.
    """
    args: list[str] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in _C_SPACE:
            i += 1
        if i >= n:
            return args
        cur: list[str] = []
        inq = insq = False
        while True:
            c = line[i] if i < n else ""
            if inq:
                if (c == "\\" and i + 3 < n and line[i + 1] == "x"
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    cur.append(chr(int(line[i + 2:i + 4], 16)))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    e = line[i]
                    cur.append(_ESCAPES.get(e, e))
                elif c == '"':
                    if i + 1 < n and line[i + 1] not in _C_SPACE:
                        return None
                    i += 1
                    break
                elif c == "":
                    return None
                else:
                    cur.append(c)
            elif insq:
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    i += 1
                    cur.append("'")
                elif c == "'":
                    if i + 1 < n and line[i + 1] not in _C_SPACE:
                        return None
                    i += 1
                    break
                elif c == "":
                    return None
                else:
                    cur.append(c)
            else:
                if c in (" ", "\n", "\r", "\t", ""):
                    if c:
                        i += 1
                    break
                if c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append("".join(cur))


def quote_arg(s: str) -> str:
    """Quote like Valkey's ``sdscatrepr``: always wrapped in double quotes."""
    out = ['"']
    for c in s:
        if c == "\\" or c == '"':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\a":
            out.append("\\a")
        elif c == "\b":
            out.append("\\b")
        else:
            o = ord(c)
            if o < 0x20 or o == 0x7F:
                out.append(f"\\x{o:02x}")
            else:
                out.append(c)
    out.append('"')
    return "".join(out)


def needs_quoting(s: str) -> bool:
    """True if ``s`` cannot be written bare on a config line."""
    if not s:
        return True
    for c in s:
        if c in "\\\"' " or ord(c) < 0x21 or ord(c) == 0x7F:
            return True
    return False


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------

_MEM_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1024,
    "m": 1000 * 1000, "mb": 1024 * 1024,
    "g": 1000 * 1000 * 1000, "gb": 1024 * 1024 * 1024,
}


def memtoull(s: str) -> int | None:
    """Parse a memory value (``1k``=1000, ``1kb``=1024, ... ``gb``), unit case-insensitive.

    Returns the unsigned 64-bit result (wrapping like C on overflow) or
    ``None`` if the text is not a memory value.
    """
    if s.startswith("-"):
        return None
    j = 0
    n = len(s)
    while j < n and "0" <= s[j] <= "9":
        j += 1
    mul = _MEM_UNITS.get(s[j:].lower())
    if mul is None:
        return None
    digits = s[:j]
    if len(digits) >= 128:
        return None
    val = min(int(digits), MASK64) if digits else 0
    return (val * mul) & MASK64


def string2ll(s: str) -> int | None:
    """Strict signed 64-bit integer parse (Valkey ``string2ll``): no spaces,
    no '+', no leading zeros, no '-0'."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    if s == "0":
        return 0
    i = 1 if s[0] == "-" else 0
    if i >= n or not ("1" <= s[i] <= "9"):
        return None
    for c in s[i + 1:]:
        if not ("0" <= c <= "9"):
            return None
    v = int(s)
    if v < LLONG_MIN or v > LLONG_MAX:
        return None
    return v


_STRTOLL_RE = re.compile(r"[ \t\n\r\v\f]*([+-]?[0-9]+)")
_STRTOLL_OCT_RE = re.compile(r"[ \t\n\r\v\f]*([+-]?[0-7]+)")


def strtoll_full(s: str) -> int | None:
    """``strtoll(s, &end, 10)`` requiring ``*end == '\\0'`` (saturating).

    As in C, the empty string converts to 0.
    """
    if s == "":
        return 0
    m = _STRTOLL_RE.fullmatch(s)
    if m is None:
        return None
    v = int(m.group(1))
    return max(LLONG_MIN, min(LLONG_MAX, v))


def strtoll_octal(s: str) -> int | None:
    """``strtoll(s, &end, 8)`` requiring full consumption and no overflow."""
    if s == "":
        return 0
    m = _STRTOLL_OCT_RE.fullmatch(s)
    if m is None:
        return None
    v = int(m.group(1), 8)
    if v < LLONG_MIN or v > LLONG_MAX:
        return None
    return v


_DOUBLE_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity)",
    re.IGNORECASE,
)


def string2d(s: str) -> float | None:
    """Valkey ``string2d``: a full strtod parse, no leading space, no NaN."""
    if not s or s[0] in _C_SPACE or _DOUBLE_RE.fullmatch(s) is None:
        return None
    v = float(s)
    if v != v:
        return None
    if v in (float("inf"), float("-inf")) and "inf" not in s.lower():
        return None  # ERANGE overflow
    return v


def format_memory(n: int) -> str:
    """``rewriteConfigFormatMemory``: use gb/mb/kb when divisible."""
    gb, mb, kb = 1024 * 1024 * 1024, 1024 * 1024, 1024
    if n and n % gb == 0:
        return f"{n // gb}gb"
    if n and n % mb == 0:
        return f"{n // mb}mb"
    if n and n % kb == 0:
        return f"{n // kb}kb"
    return str(n)


def trim_double(x: float) -> str:
    """``%f`` then strip trailing zeros and dot (Valkey ``trimDoubleString``)."""
    s = f"{x:f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


# ---------------------------------------------------------------------------
# Glob matching (Valkey's stringmatchlen)
# ---------------------------------------------------------------------------


def has_glob(s: str) -> bool:
    return "*" in s or "?" in s or "[" in s


def stringmatch(pattern: str, string: str, nocase: bool = False) -> bool:
    """Glob match with Valkey's rules (``*``, ``?``, ``[...]``, ``[^...]``, ``\\``)."""
    skip = [False]
    return _match(pattern, 0, string, 0, nocase, skip, 0)


def _match(p: str, pi: int, s: str, si: int, nocase: bool, skip: list[bool],
           nesting: int) -> bool:
    if nesting > 1000:
        return False
    plen = len(p)
    slen = len(s)
    while pi < plen and si < slen:
        c = p[pi]
        if c == "*":
            while pi + 1 < plen and p[pi + 1] == "*":
                pi += 1
            if pi + 1 == plen:
                return True
            while si < slen:
                if _match(p, pi + 1, s, si, nocase, skip, nesting + 1):
                    return True
                if skip[0]:
                    return False
                si += 1
            skip[0] = True
            return False
        elif c == "?":
            si += 1
        elif c == "[":
            pi += 1
            negate = pi < plen and p[pi] == "^"
            if negate:
                pi += 1
            matched = False
            ch = s[si]
            while True:
                if pi < plen and p[pi] == "\\" and plen - pi >= 2:
                    pi += 1
                    if p[pi] == ch:
                        matched = True
                elif pi < plen and p[pi] == "]":
                    break
                elif pi >= plen:
                    pi -= 1
                    break
                elif plen - pi >= 3 and p[pi + 1] == "-":
                    lo, hi, x = p[pi], p[pi + 2], ch
                    if lo > hi:
                        lo, hi = hi, lo
                    if nocase:
                        lo, hi, x = lo.lower(), hi.lower(), x.lower()
                    pi += 2
                    if lo <= x <= hi:
                        matched = True
                else:
                    if nocase:
                        if p[pi].lower() == ch.lower():
                            matched = True
                    elif p[pi] == ch:
                        matched = True
                pi += 1
            if negate:
                matched = not matched
            if not matched:
                return False
            si += 1
        else:
            if c == "\\" and plen - pi >= 2:
                pi += 1
                c = p[pi]
            if nocase:
                if c.lower() != s[si].lower():
                    return False
            elif c != s[si]:
                return False
            si += 1
        pi += 1
        if si == slen:
            while pi < plen and p[pi] == "*":
                pi += 1
            break
    return pi == plen and si == slen


# ---------------------------------------------------------------------------
# Reading configuration sources
# ---------------------------------------------------------------------------


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        return f.read()


def read_config_source(path: str) -> str:
    """Read a config file (``loadServerConfig`` semantics).

    With wildcard characters (``*?[``) the pattern is globbed and every match
    is concatenated in sorted order; no match is not an error.  Otherwise the
    file must be readable.  Raises :class:`ConfigFileOpenError`.
    """
    if has_glob(path):
        import glob

        parts: list[str] = []
        for name in sorted(glob.glob(path)):
            try:
                parts.append(_read_text(name))
            except OSError as e:
                raise ConfigFileOpenError(
                    f"Fatal error, can't open config file '{name}': "
                    f"{os.strerror(e.errno or 0)}") from None
        return "".join(parts)
    try:
        return _read_text(path)
    except OSError as e:
        raise ConfigFileOpenError(
            f"Fatal error, can't open config file '{path}': "
            f"{os.strerror(e.errno or 0)}") from None


def argv_to_options(argv: list[str]) -> tuple[str | None, bool, str]:
    """Turn ``valkey-server`` arguments (without the program name) into
    ``(config_file, config_from_stdin, options_text)`` like ``main()``.

    A first argument not starting with ``-`` is the config file.  ``-`` as the
    first or last argument means "read config from stdin".  ``--name`` starts
    a new option line; following arguments are quoted and appended as its
    values.  ``--save`` with no value becomes ``save ""``.
    """
    config_file: str | None = None
    from_stdin = False
    options = ""
    j = 0
    argc = len(argv)
    if argc and not argv[0].startswith("-"):
        config_file = argv[0]
        j = 1
    handled_last = True
    while j < argc:
        a = argv[j]
        if a == "-" and (j == 0 or j == argc - 1):
            from_stdin = True
        elif handled_last and a.startswith("--"):
            if options:
                options += "\n"
            options += a[2:] + " "
            toks = split_args(a)
            ntoks = len(toks) if toks is not None else 0
            if ntoks == 1:
                handled_last = False
                nxt_is_opt = j != argc - 1 and argv[j + 1].startswith("--")
                low = a.lower()
                if nxt_is_opt and low == "--save":
                    options += '""'
                    handled_last = True
                elif j == argc - 1 and low == "--save":
                    options += '""'
                elif nxt_is_opt and low == "--sentinel":
                    handled_last = True
            else:
                handled_last = True
        else:
            options += quote_arg(a) + " "
            handled_last = True
        j += 1
    return config_file, from_stdin, options
