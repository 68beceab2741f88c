"""Keep secrets out of logs and storage: registered secret values and credential-looking fields
become ``***``.

Two nets catch a secret before a log line is written:

1. **Registered values.** Whatever :func:`register_secret` was given (the vault registers every
   API key, secret and passphrase it decrypts) is replaced wherever it appears, also in its
   URL-encoded form. Values shorter than 6 characters are ignored: replacing ``"1"`` or
   ``"true"`` everywhere would wreck every log line and protect nothing.
2. **Patterns.** The value of any field whose name says it is a credential (``apiKey``,
   ``secret``, ``password``, ``passphrase``, ``signature``, ``X-MBX-APIKEY``, ``Authorization``,
   ``KC-API-KEY``, ``OK-ACCESS-SIGN``, ...) is replaced in the forms logs actually contain:
   ``key=value`` (URL queries and form bodies), ``key: value`` (HTTP headers), and quoted
   ``"key": "value"`` / ``'key': 'value'`` (JSON and Python dict reprs, as ccxt logs headers).

:func:`install_redaction` wires :class:`SecretFilter` into logging. Where it goes matters: a
filter attached to a *logger* only sees records created on that very logger, not those
propagated up from its children (``logging.Logger.handle`` runs the logger's filters, then
``callHandlers`` walks up the hierarchy calling only *handlers*). Records of
``ccxt.base.exchange`` therefore pass a filter on the ``ccxt`` logger untouched; a filter on the
root logger's *handlers* sees them all. So the filter goes on both, and on
:data:`logging.lastResort` (used when no handler is configured). Handlers added later are not
covered: call :func:`install_redaction` again after configuring logging.

Also, ccxt's DEBUG logging prints every request's headers and signed body, so the ``ccxt``
logger is set to INFO.

The same redactor guards every other way out: the ccxt adapter redacts the text of each ccxt
error it wraps (ccxt puts the signed request URL, which carries the key on venues such as htx,
into the message), the journal redacts the strings it stores (order errors, command results,
risk events, proposal notes, state values, audit details; :func:`redact_payload` for nested
payloads), and alerts redact their message and details, so the database, the audit log, the
panel and alert channels never see what a log line may not show.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "SecretFilter",
    "install_redaction",
    "is_secret_name",
    "redact",
    "redact_payload",
    "register_secret",
]

MASK = "***"
"""What replaces a secret."""

MIN_SECRET_LENGTH = 6
"""Registered values shorter than this are ignored (see the module docstring)."""

# Names of credential fields. A name may carry vendor prefixes ("X-MBX-", "KC-API-", "OK-ACCESS-")
# but must end with one of these words, so that e.g. "signal" or "designation" are left alone.
_KEY_WORDS = (
    r"api[-_]?key|apikey|api[-_]?secret|secret(?:[-_]?key)?|client[-_]?secret|"
    r"password|passwd|passphrase|signature|sign|authorization|access[-_]?key(?:[-_]?id)?|"
    r"access[-_]?token|refresh[-_]?token|token|private[-_]?key|totp[-_]?secret|secret[-_]?token"
)
_KEY = rf"(?<![A-Za-z0-9_-])(?:[A-Za-z0-9]+[-_])*(?:{_KEY_WORDS})"

# "key": "value" and 'key': 'value' (JSON, Python dict reprs as ccxt logs headers).
_QUOTED = re.compile(
    rf"""(?P<head>(?P<q>["']){_KEY}(?P=q)\s*:\s*)"""
    r"""(?P<v>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,}\]]+)""",
    re.IGNORECASE,
)
# key=value, key: value, key = "value", Authorization: Bearer value.
_PLAIN = re.compile(
    rf"""(?P<head>{_KEY}\s*[=:]\s*(?:(?:Bearer|Basic|Token|Digest)\s+)?)"""
    r"""(?P<v>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s&,;'"}\])]+)""",
    re.IGNORECASE,
)

# A whole field name that says it holds a credential (for keys of nested payloads).
_NAME = re.compile(rf"(?:[A-Za-z0-9]+[-_])*(?:{_KEY_WORDS})", re.IGNORECASE)

_LOCK = threading.Lock()
_SECRETS: set[str] = set()
_SECRETS_RE: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Redact ``value`` from every log line and :func:`redact` output from now on.

    Parameters
    ----------
    value : str or None
        The secret; ``None`` and values shorter than :data:`MIN_SECRET_LENGTH` are ignored.

    Examples
    --------
    >>> register_secret("s3cr3t-value-123")
    >>> redact("using s3cr3t-value-123 now")
    'using *** now'
    """
    global _SECRETS_RE
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    forms = {value, quote(value, safe="")}
    with _LOCK:
        if forms <= _SECRETS:
            return
        _SECRETS.update(forms)
        # Longest first, so that a secret containing another is replaced whole.
        alternatives = sorted(_SECRETS, key=len, reverse=True)
        _SECRETS_RE = re.compile("|".join(re.escape(item) for item in alternatives))


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("v")
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('head')}{quote_char}{MASK}{quote_char}"


def redact(text: str) -> str:
    """``text`` with registered secrets and credential-looking field values replaced by ``***``.

    Use it for outputs that do not go through logging (error messages shown in a UI, files).

    Examples
    --------
    >>> redact("GET /api/v3/order?symbol=BTCUSDT&signature=9f86d081")
    'GET /api/v3/order?symbol=BTCUSDT&signature=***'
    >>> redact("{'X-MBX-APIKEY': 'k3yk3y', 'Content-Type': 'application/json'}")
    "{'X-MBX-APIKEY': '***', 'Content-Type': 'application/json'}"
    >>> redact("Authorization: Bearer eyJhbGci.xyz")
    'Authorization: Bearer ***'
    >>> redact("signal=long")
    'signal=long'
    """
    pattern = _SECRETS_RE
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _QUOTED.sub(_mask_value, text)
    return _PLAIN.sub(_mask_value, text)


def is_secret_name(name: str) -> bool:
    """Whether a field called ``name`` holds a credential (``apiKey``, ``X-MBX-APIKEY``, ...).

    Examples
    --------
    >>> is_secret_name("OK-ACCESS-KEY"), is_secret_name("AccessKeyId"), is_secret_name("signal")
    (True, True, False)
    """
    return _NAME.fullmatch(name) is not None


def redact_payload(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string inside it, and the value of every
    mapping key that names a credential replaced by ``***``; other values are returned as they
    are (a new container when anything inside may change).

    Use it on a payload before it is stored or sent (an audit detail, an alert's details).

    Examples
    --------
    >>> redact_payload({"apiKey": "k3y-value", "n": 2, "why": ["url?signature=ab12cd"]})
    {'apiKey': '***', 'n': 2, 'why': ['url?signature=***']}
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {
            k: MASK
            if isinstance(k, str) and is_secret_name(k) and isinstance(v, str) and v
            else redact_payload(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_payload(v) for v in value) if value else value
    return value


class SecretFilter(logging.Filter):
    """A logging filter that rewrites records so that no secret reaches a handler.

    The message is formatted first (``record.getMessage()``, so that secrets passed as
    ``%s`` arguments are caught), redacted, and stored back with ``args`` cleared; an
    exception's traceback and ``stack_info`` are formatted and redacted the same way. It never
    drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the secret in its args
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse a cached exc_text, so the redacted text is what they print.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = SecretFilter()


def _add_filter(target: logging.Logger | logging.Handler) -> None:
    if not any(isinstance(existing, SecretFilter) for existing in target.filters):
        target.addFilter(_FILTER)


def install_redaction(
    logger_names: Iterable[str] = ("", "ccxt", "quantlib", "urllib3"),
) -> None:
    """Attach :class:`SecretFilter` to the named loggers, their handlers and the root handlers.

    Safe to call again (no filter is added twice); call it again after adding handlers.

    Parameters
    ----------
    logger_names : iterable of str
        Loggers to protect (``""`` is the root logger). Their handlers, every handler of the
        root logger and :data:`logging.lastResort` get the filter too; see the module
        docstring for why handler filters are what catches records of child loggers.

    Examples
    --------
    >>> install_redaction()
    >>> logging.getLogger("ccxt").level == logging.INFO
    True
    """
    root = logging.getLogger()
    for name in logger_names:
        logger = logging.getLogger(name) if name else root
        _add_filter(logger)
        for handler in logger.handlers:
            _add_filter(handler)
    for handler in root.handlers:
        _add_filter(handler)
    if logging.lastResort is not None:
        _add_filter(logging.lastResort)
    # ccxt logs request headers (API key) and signed bodies at DEBUG.
    logging.getLogger("ccxt").setLevel(logging.INFO)
