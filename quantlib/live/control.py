"""The control panel's logic: commands with role and argument checks, the tables it shows, login.

The panel never trades and never talks to an exchange. It reads what the engine process
publishes in the journal (:func:`~quantlib.live.status.read_status`) and acts only by queueing
commands (:meth:`~quantlib.live.journal.Journal.enqueue_command`), which the engine authorises
again (:func:`~quantlib.live.authz.authorize_command`) and executes. A :func:`login` opens a
session (:mod:`quantlib.live.sessions`) and returns its grant; :func:`submit` signs every
command with the grant's secret, after checking the session, the role (read now) and the
arguments so that the operator hears "no" at once, with the reason, instead of finding a
``denied`` row later; the engine's check stays the one that counts.

Commands and their arguments (``?`` = optional):

==================  ==========================================  ============
kind                args                                        least role
==================  ==========================================  ============
``approve``         ``proposal_id``, ``price?`` (a limit order) trader
``reject``          ``proposal_id``                             trader
``pause``           ``strategy``                                trader
``resume``          ``strategy``                                trader
``reduce_only``     ``strategy``                                trader
``set_mode_auto``   ``strategy``                                admin
``stop_entries``                                                trader
``resume_entries``                                              trader
``force_exit``      ``symbol``                                  trader
``force_exit_all``                                              trader
``kill``                                                        trader
``rearm``                                                       admin
``set_limits``      ``limits`` (:class:`RiskLimits` JSON text)  admin
==================  ==========================================  ============

The table functions take an :class:`~quantlib.live.status.EngineStatus` (one snapshot, with its
own ``now``), so they are pure and a test pins their values; they live in
:mod:`quantlib.live.control_tables` and are re-exported here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from quantlib.exceptions import ConfigError
from quantlib.live.authz import COMMAND_ROLES, require
from quantlib.live.control_tables import (
    audit_frame,
    banner,
    command_frame,
    controls_signature,
    engine_warning,
    health_frame,
    limits_text,
    orders_frame,
    perpetuals_frame,
    pnl_totals,
    positions_frame,
    proposals_frame,
    refresh_seconds,
    snapshot,
    strategies_frame,
)
from quantlib.live.errors import LoginFailed, PermissionDenied
from quantlib.live.journal import Journal
from quantlib.live.journal_tables import canonical_json
from quantlib.live.risk_gate import RiskLimits
from quantlib.live.sessions import SessionGrant, new_nonce, sign_command
from quantlib.live.users import Enrolment, User, UserStore

__all__ = [
    "PANEL_COMMANDS",
    "STRATEGY_BUTTONS",
    "allowed",
    "audit_frame",
    "banner",
    "command_frame",
    "controls_signature",
    "current_user",
    "engine_warning",
    "first_admin",
    "health_frame",
    "limits_text",
    "login",
    "logout",
    "needs_setup",
    "orders_frame",
    "perpetuals_frame",
    "pnl_totals",
    "positions_frame",
    "proposals_frame",
    "refresh_seconds",
    "setup_client_allowed",
    "snapshot",
    "strategies_frame",
    "submit",
]

# kind -> (required args, optional args). Only these kinds are sent from the panel; the user
# administration commands of authz go through `quant users`.
PANEL_COMMANDS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "approve": (("proposal_id",), ("price",)),
    "reject": (("proposal_id",), ()),
    "pause": (("strategy",), ()),
    "resume": (("strategy",), ()),
    "reduce_only": (("strategy",), ()),
    "set_mode_auto": (("strategy",), ()),
    "stop_entries": ((), ()),
    "resume_entries": ((), ()),
    "force_exit": (("symbol",), ()),
    "force_exit_all": ((), ()),
    "kill": ((), ()),
    "rearm": ((), ()),
    "set_limits": (("limits",), ()),
}
"""Command kind → (required argument names, optional argument names)."""

STRATEGY_BUTTONS: tuple[tuple[str, str], ...] = (
    ("Pause", "pause"),
    ("Resume", "resume"),
    ("Reduce-only", "reduce_only"),
    ("Auto (admin)", "set_mode_auto"),
)
"""(label, command kind) of the per-strategy buttons, in the order the panel shows them."""


# -- commands -------------------------------------------------------------------------------


def allowed(user: User, kind: str) -> bool:
    """Whether ``user``'s role reaches the least role of command ``kind`` (False if unknown).

    Examples
    --------
    >>> from quantlib.live.types import Role
    >>> allowed(User("ann", Role.TRADER, True, None), "kill")
    True
    >>> allowed(User("ann", Role.TRADER, True, None), "rearm")
    False
    """
    needed = COMMAND_ROLES.get(kind)
    return kind in PANEL_COMMANDS and needed is not None and user.role.allows(needed)


def _text_arg(kind: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"command {kind!r} needs {name!r} as a non-empty string, got {value!r}. Fix: pass "
            f"args={{{name!r}: ...}}"
        )
    return value.strip()


def _check_args(journal: Journal, kind: str, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``kind`` validated and normalised, or a ConfigError naming the fix."""
    required, optional = PANEL_COMMANDS[kind]
    unknown = sorted(set(args) - set(required) - set(optional))
    missing = [name for name in required if name not in args]
    if unknown or missing:
        expected = ", ".join([*required, *(f"{name}?" for name in optional)]) or "none"
        raise ConfigError(
            f"command {kind!r} got arguments {sorted(args)}; it takes: {expected} "
            f"(missing {missing}, unexpected {unknown})"
        )
    checked: dict[str, Any] = {}
    for name in required:
        if name != "limits":
            checked[name] = _text_arg(kind, name, args[name])
    if kind == "approve":
        _require_pending(journal, checked["proposal_id"])
        price = args.get("price")
        if price is not None:
            if isinstance(price, bool) or not isinstance(price, int | float) or not price > 0:
                raise ConfigError(
                    f"approve: price must be a number > 0 (a limit price) or omitted for a "
                    f"market order, got {price!r}"
                )
            # The panel's price field is a limit price: the engine places a limit order there
            # (without ``order_type`` it would only check the price tolerance and send a
            # market order).
            checked["price"] = float(price)
            checked["order_type"] = "limit"
    if kind == "reject":
        _require_pending(journal, checked["proposal_id"])
    if kind == "set_limits":
        checked["limits"] = _parse_limits(args["limits"]).to_json()
    return checked


def _require_pending(journal: Journal, proposal_id: str) -> None:
    record = journal.proposal(proposal_id)
    if record is None:
        raise ConfigError(
            f"no proposal {proposal_id!r} in the journal. Fix: pick one from the pending list"
        )
    if record.status != "pending":
        by = f" by {record.decided_by!r}" if record.decided_by else ""
        raise ConfigError(f"proposal {proposal_id!r} is already {record.status}{by}")


def _parse_limits(text: object) -> RiskLimits:
    if not isinstance(text, str | bytes):
        raise ConfigError(f"set_limits: limits must be RiskLimits JSON text, got {text!r}")
    try:
        return RiskLimits.from_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'limits'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(
            f"risk limits rejected: {problems}. Fix: edit the JSON (fields as in RiskLimits, "
            'e.g. "max_leverage": 1.0) and save again'
        ) from None


def submit(
    journal: Journal,
    store: UserStore,
    grant: SessionGrant,
    kind: str,
    args: dict[str, Any] | None = None,
) -> int:
    """Queue command ``kind``, signed by the login session ``grant``; returns the command id.

    Parameters
    ----------
    journal : Journal
        The engine's journal (its commands table).
    store : UserStore
        The accounts and sessions: the session is checked and the user's role read now.
    grant : SessionGrant
        What :func:`login` returned; its secret signs the command (HMAC-SHA256 over kind,
        args, user, session id, time and a fresh nonce, see
        :func:`~quantlib.live.sessions.sign_command`).
    kind : str
        A key of :data:`PANEL_COMMANDS`.
    args : dict, optional
        The command's arguments (see the module docstring).

    Returns
    -------
    int
        The id of the queued command (the panel shows "sent (command #N)").

    Raises
    ------
    PermissionDenied
        For an unknown kind (the message lists the known ones), a session that is not open
        (expired, revoked, wrong secret) or a role below the kind's least role
        (``"user 'bob' (viewer) needs trader"``).
    ConfigError
        For missing, unexpected or invalid arguments: a blank strategy or symbol, an approve
        of a proposal that is not pending, limits JSON that :class:`RiskLimits` refuses.

    Examples
    --------
    >>> import pyotp
    >>> from argon2 import PasswordHasher
    >>> from cryptography.fernet import Fernet
    >>> from quantlib.db import make_engine
    >>> from quantlib.live.vault import Vault
    >>> db = make_engine("sqlite://")
    >>> now = lambda: 1_700_000_000_000
    >>> store = UserStore(db, clock=now, vault=Vault(db, Fernet.generate_key()),
    ...                   hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    >>> secret = store.create_first_admin("ann", "correct horse battery").totp_secret
    >>> grant = login(store, "ann", "correct horse battery", pyotp.TOTP(secret).at(now() // 1000))
    >>> journal = Journal(db, clock=now)
    >>> submit(journal, store, grant, "pause", {"strategy": "sma"})
    1
    >>> journal.pending_commands()[0].args
    {'strategy': 'sma'}
    """
    if kind not in PANEL_COMMANDS or kind not in COMMAND_ROLES:
        known = ", ".join(sorted(PANEL_COMMANDS))
        raise PermissionDenied(f"unknown command {kind!r}; the panel sends: {known}")
    user = store.session_user(grant)
    require(user, COMMAND_ROLES[kind])
    checked = _check_args(journal, kind, dict(args or {}))
    created_at, nonce = store.now(), new_nonce()
    mac = sign_command(
        grant.secret,
        kind=kind,
        args_json=canonical_json(checked),
        user=user.username,
        session_id=grant.session_id,
        created_at=created_at,
        nonce=nonce,
    )
    return journal.enqueue_command(
        kind,
        user=user.username,
        args=checked,
        created_at=created_at,
        session_id=grant.session_id,
        nonce=nonce,
        mac=mac,
    )


# -- accounts -------------------------------------------------------------------------------


def login(
    store: UserStore,
    username: str,
    password: str,
    totp: str | None,
    *,
    journal: Journal | None = None,
) -> SessionGrant:
    """Check a login (:meth:`UserStore.authenticate`), open a session, and audit it.

    Given a ``journal``, the audit row (actor = the username typed) is ``panel.login`` with
    the role and the first characters of the session id, or ``panel.login_failed``, so the
    operator's log shows who opened the panel and every refused attempt.

    Returns
    -------
    SessionGrant
        Keep it for the session (the panel: in ``st.session_state``); :func:`submit` signs
        with it and :func:`current_user` reads the user and role from it on each request.

    Raises
    ------
    LoginFailed
        With the store's one message for every refusal (:data:`~quantlib.live.users.LOGIN_FAILED`).
    """
    try:
        user = store.authenticate(username, password, totp or None)
    except LoginFailed as exc:
        if journal is not None:
            journal.audit(str(username)[:100], "panel.login_failed", {"reason": str(exc)})
        raise
    grant = store.open_session(user)
    if journal is not None:
        journal.audit(
            user.username,
            "panel.login",
            {"role": user.role.value, "session": grant.session_id[:8]},
        )
    return grant


def current_user(store: UserStore, grant: object) -> User:
    """The user of the panel's session with the role read now (each page run calls this).

    Raises
    ------
    PermissionDenied
        If the session expired, was revoked (logout, role change, TOTP or password reset) or
        is not a grant at all: the panel then shows the login form again.
    """
    return store.session_user(grant)


def logout(store: UserStore, grant: object, *, journal: Journal | None = None) -> None:
    """End the panel's session (and audit ``panel.logout`` given a journal)."""
    if isinstance(grant, SessionGrant):
        store.logout(grant)
        if journal is not None:
            journal.audit(grant.username, "panel.logout", {"session": grant.session_id[:8]})


def setup_client_allowed(client_ip: str | None) -> bool:
    """Whether the first-run set-up page may serve a client at ``client_ip``: loopback only.

    Streamlit's ``st.context.ip_address`` is ``None`` for a client on ``127.0.0.1`` or ``::1``
    (and when there is no client connection, as under ``AppTest``); anything else must be a
    loopback address (e.g. ``127.0.0.2``, ``::ffff:127.0.0.1``). A reverse proxy on the same
    host makes every client look local: do not put the workspace behind one before the first
    admin exists.

    Examples
    --------
    >>> setup_client_allowed(None), setup_client_allowed("127.0.0.1")
    (True, True)
    >>> setup_client_allowed("192.168.1.20"), setup_client_allowed("not an ip")
    (False, False)
    """
    if client_ip is None:
        return True
    try:
        address = ipaddress.ip_address(client_ip.strip().strip("[]").split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def needs_setup(store: UserStore) -> bool:
    """True while the workspace has no account: the first-run page must create an admin."""
    return store.count() == 0


def first_admin(store: UserStore, username: str, password: str, confirm: str) -> Enrolment:
    """Create the first account, an admin, after checking the password was typed twice alike.

    Raises
    ------
    ConfigError
        If ``confirm`` differs from ``password``, or the username or password breaks the
        policy (see :class:`~quantlib.live.users.UserStore`).
    PermissionDenied
        If an account already exists.
    """
    if password != confirm:
        raise ConfigError(
            "the password and its confirmation differ. Fix: type the same password in both fields"
        )
    return store.create_first_admin(username.strip(), password)
