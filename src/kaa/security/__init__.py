"""Security: ACL users and permission checks (``acl``, ``manager``), the ACL log
(``acl_log``), key/channel extraction for checks (``keyspecs``) and TLS (``tls``).

``install(server)`` wires them into a server: the user table seeded from
``requirepass``, the ``user`` lines of the configuration file or the ACL file,
the pipeline gate, the hooks scripting and CONFIG use, and the TLS listeners.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kaa.security.manager import AclManager, AclStartupError, print_config_error

if TYPE_CHECKING:
    from kaa.server.server import Server

__all__ = ["install", "AclManager", "AclStartupError"]


def install(server: Server) -> AclManager:
    """Create the ACL state for ``server`` (raises AclStartupError on bad users)."""
    cfg = server.config
    acl = AclManager(server)
    server.acl = acl
    acl.set_default_password(cfg.requirepass or None)
    err = acl.validate_config_users()
    if err is not None:
        print_config_error(err)
        raise AclStartupError()
    acl.load_at_startup()

    def requirepass(old: Any, new: Any) -> None:
        acl.set_default_password(new or None)

    cfg.on_change("requirepass", requirepass)
    cfg.acl_rewrite_users = acl.rewrite_lines
    cfg.acl_user_validator = acl.validate_user_line
    server.user_exists = lambda name: name in acl.users  # CLIENT KILL USER
    server.script_acl_check = acl.script_check
    server.script_acl_allowed = acl.script_allowed
    server.acl_full_key_access = acl.full_key_access
    from kaa.security import tls

    server.tls = tls.install(server)
    return acl
