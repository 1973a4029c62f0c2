"""ACL: SETUSER GETUSER DELUSER USERS LIST WHOAMI CAT GENPASS DRYRUN LOG SAVE LOAD HELP.

The user table, rule language and checks live in ``kaa.security``; these handlers
parse arguments and shape replies exactly as Valkey's aclCommand does.
"""

from __future__ import annotations

import secrets
from typing import Any

from kaa.commands.args import REDACTED, parse_int
from kaa.commands.registry import ACL_CATEGORIES, COMMANDS, subcommand, wrong_arity
from kaa.commands.server_cmds import arg, declare_container, help_reply, syntax_error_for
from kaa.protocol.reply import OK, ReplyError, SetReply
from kaa.security.acl import check_all, error_message, has_spaces, to_bytes

declare_container("acl", -2, group="server", since="6.0.0", complexity="Depends on subcommand.",
                  summary="A container for Access List Control commands.")

_ADMIN = "admin noscript loading stale sentinel"
_GENPASS_MAX_BITS = 4096
_NO_ACL_FILE = ReplyError(
    "ERR This instance is not configured to use an ACL file. You may want to specify users "
    "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
    "configuration file set) in order to store users in the configuration.")


def _error(text: str) -> ReplyError:
    """addReplyErrorSdsSafe: an error reply on one line."""
    return ReplyError("ERR " + text.replace("\r", " ").replace("\n", " "))


@subcommand("acl", "setuser", -3, _ADMIN, since="6.0.0",
            summary="Creates and modifies an ACL user and its rules.",
            complexity="O(N). Where N is the number of rules provided.",
            history=(("6.2.0", "Added Pub/Sub channel patterns."),
                     ("7.0.0", "Added selectors and key based permissions.")),
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            arguments=(arg("username", "string"),
                       arg("rule", "string", optional=True, multiple=True)))
def acl_setuser(c: Any, argv: list[bytes]) -> Any:
    name = argv[2]
    ops = argv[3:]
    for j in range(2, len(argv)):
        argv[j] = REDACTED  # rules carry passwords: keep them out of SLOWLOG
    if has_spaces(name):
        raise ReplyError("ERR Usernames can't contain spaces or null characters")
    err = c.server.acl.setuser(name, ops)
    if err is not None:
        raise _error(err)
    return OK


@subcommand("acl", "deluser", -3, _ADMIN, since="6.0.0",
            summary="Deletes ACL users, and terminates their connections.",
            complexity="O(1) amortized time considering the typical user.",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            arguments=(arg("username", "string", multiple=True),))
def acl_deluser(c: Any, argv: list[bytes]) -> Any:
    names = argv[2:]
    for j in range(2, len(argv)):
        argv[j] = REDACTED
    if b"default" in names:
        raise ReplyError("ERR The 'default' user cannot be removed")
    return c.server.acl.deluser(names)


@subcommand("acl", "getuser", 3, _ADMIN, since="6.0.0",
            summary="Lists the ACL rules of a user.",
            complexity="O(N). Where N is the number of password, command and pattern rules "
                       "that the user has.",
            history=(("6.2.0", "Added Pub/Sub channel patterns."),
                     ("7.0.0", "Added selectors and changed the format of key and channel "
                               "patterns from a list to their rule representation.")),
            arguments=(arg("username", "string"),))
def acl_getuser(c: Any, argv: list[bytes]) -> Any:
    name = argv[2]
    argv[2] = REDACTED
    u = c.server.acl.users.get(name.decode("utf-8", "surrogateescape"))
    if u is None:
        return None
    root = u.selectors[0]
    return {
        b"flags": SetReply(u.flags()),
        b"passwords": [p.encode("ascii") for p in u.passwords],
        b"commands": root.describe_commands().encode("latin-1"),
        b"keys": root.keys_description(),
        b"channels": root.channels_description(),
        b"selectors": [{
            b"commands": s.describe_commands().encode("latin-1"),
            b"keys": s.keys_description(),
            b"channels": s.channels_description(),
        } for s in u.selectors[1:]],
    }


@subcommand("acl", "list", 2, _ADMIN, since="6.0.0",
            summary="Dumps the effective rules in ACL file format.",
            complexity="O(N). Where N is the number of configured users.")
def acl_list(c: Any, argv: list[bytes]) -> Any:
    return [b"user " + to_bytes(u.name) + b" " + u.describe()
            for u in c.server.acl.sorted_users()]


@subcommand("acl", "users", 2, _ADMIN, since="6.0.0", summary="Lists all ACL users.",
            complexity="O(N). Where N is the number of configured users.")
def acl_users(c: Any, argv: list[bytes]) -> Any:
    return [to_bytes(u.name) for u in c.server.acl.sorted_users()]


@subcommand("acl", "whoami", 2, "noscript loading stale sentinel", since="6.0.0",
            summary="Returns the authenticated username of the current connection.",
            complexity="O(1)")
def acl_whoami(c: Any, argv: list[bytes]) -> Any:
    return to_bytes(c.acl_user.name)


@subcommand("acl", "load", 2, _ADMIN, since="6.0.0",
            summary="Reloads the rules from the configured ACL file.",
            complexity="O(N). Where N is the number of configured users.")
def acl_load(c: Any, argv: list[bytes]) -> Any:
    acl = c.server.acl
    if not c.server.config.aclfile:
        raise _NO_ACL_FILE
    errors = acl.load_file()
    if errors is not None:
        raise _error(errors)
    return OK


@subcommand("acl", "save", 2, _ADMIN, since="6.0.0",
            summary="Saves the effective ACL rules in the configured ACL file.",
            complexity="O(N). Where N is the number of configured users.",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def acl_save(c: Any, argv: list[bytes]) -> Any:
    if not c.server.config.aclfile:
        raise _NO_ACL_FILE
    if not c.server.acl.save_file():
        raise ReplyError("ERR There was an error trying to save the ACLs. Please check the "
                         "server logs for more information")
    return OK


@subcommand("acl", "cat", -2, "noscript loading stale sentinel", since="6.0.0",
            summary="Lists the ACL categories, or the commands inside a category.",
            complexity="O(1) since the categories and commands are a fixed set.",
            arguments=(arg("category", "string", optional=True),))
def acl_cat(c: Any, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [cat.encode() for cat in ACL_CATEGORIES]
    if len(argv) != 3:
        raise syntax_error_for(argv)
    cat = argv[2].decode("latin-1").lower()
    if cat not in ACL_CATEGORIES:
        shown = argv[2][:128].decode("utf-8", "replace")
        raise ReplyError(f"ERR Unknown category '{shown}'")
    out: list[bytes] = []
    for cmd in COMMANDS.values():
        if cat in cmd.acl_categories:
            out.append(cmd.fullname.encode())
        for sub in cmd.subcommands.values():
            if cat in sub.acl_categories:
                out.append(sub.fullname.encode())
    return out


@subcommand("acl", "genpass", -2, "noscript loading stale sentinel", since="6.0.0",
            summary="Generates a pseudorandom, secure password that can be used to identify "
                    "ACL users.", complexity="O(1)",
            arguments=(arg("bits", "integer", optional=True),))
def acl_genpass(c: Any, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise syntax_error_for(argv)
    bits = parse_int(argv[2]) if len(argv) == 3 else 256
    if bits <= 0 or bits > _GENPASS_MAX_BITS:
        raise ReplyError("ERR ACL GENPASS argument must be the number of bits for the output "
                         f"password, a positive number up to {_GENPASS_MAX_BITS}")
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars].encode()


@subcommand("acl", "log", -2, _ADMIN, since="6.0.0",
            summary="Lists recent security events generated due to ACL rules.",
            complexity="O(N) with N being the number of entries shown.",
            history=(("7.2.0", "Added entry ID, timestamp created, and timestamp last "
                               "updated."),),
            arguments=(arg("operation", "oneof", optional=True, args=(
                arg("count", "integer"), arg("reset", "pure-token", token="RESET"))),))
def acl_log(c: Any, argv: list[bytes]) -> Any:
    import time

    if len(argv) > 3:
        raise syntax_error_for(argv)
    log = c.server.acl.log
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            log.reset()
            return OK
        count = max(0, parse_int(argv[2]))
    return log.reply(count, int(time.time() * 1000))


@subcommand("acl", "dryrun", -4, _ADMIN, since="7.0.0",
            summary="Simulates the execution of a command by a user, without executing the "
                    "command.", complexity="O(1).",
            arguments=(arg("username", "string"), arg("command", "string"),
                       arg("arg", "string", optional=True, multiple=True)))
def acl_dryrun(c: Any, argv: list[bytes]) -> Any:
    srv = c.server
    u = srv.acl.users.get(argv[2].decode("utf-8", "surrogateescape"))
    if u is None:
        raise ReplyError(f"ERR User '{argv[2].decode('utf-8', 'replace')}' not found")
    cargv = argv[3:]
    cmd = srv.lookup_command(cargv[0])
    if cmd is not None and cmd.subcommands and len(cargv) > 1:
        cmd = cmd.subcommands.get(cargv[1].decode("latin-1").lower())
    if cmd is None:
        raise ReplyError(f"ERR Command '{cargv[0].decode('utf-8', 'replace')}' not found")
    n = len(cargv)
    if (cmd.arity > 0 and cmd.arity != n) or n < -cmd.arity:
        raise wrong_arity(cmd.fullname)
    res, idx = check_all(u, cmd, cargv)
    if res:
        return error_message(res, u, cmd, cargv[idx], True).encode("utf-8", "surrogateescape")
    return OK


_HELP = (
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
)


@subcommand("acl", "help", 2, "loading stale sentinel", since="6.0.0",
            summary="Returns helpful text about the different subcommands.", complexity="O(1)")
def acl_help(c: Any, argv: list[bytes]) -> Any:
    return help_reply(argv[0], _HELP)
