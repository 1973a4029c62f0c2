"""Deliberate, known differences between Valkey 8 (which Kaa follows) and Debian's
redis-server 7.0 (the differential-test oracle). Differential tests consult this so that
each difference is listed once, with its reason.

Keys are short identifiers used by the tests; values say what differs and why.
"""

from __future__ import annotations

KNOWN_DIFFERENCES: dict[str, str] = {
    "hello-server-field": "HELLO reports server=valkey (Valkey 8) where Redis 7.0 says redis.",
    "blocking-timeout-overflow": "A blocking timeout whose deadline overflows 64 bits (e.g. "
    "BLPOP k 0x7FFFFFFFFFFFFF, inf, 1e400) is 'ERR timeout is out of range' in Valkey 8; "
    "Redis 7.0 wraps around and says 'ERR timeout is negative'.",
    "lrem-lpos-llong-min": "LREM count / LPOS RANK of -9223372036854775808 is refused by "
    "Valkey 8 ('value is out of range, value must between -9223372036854775807 and "
    "9223372036854775807'); Redis 7.0 accepts it (and negates it with overflow).",
    "list-encoding-listpack": "Small lists are 'listpack' in Valkey 8 (Redis 7.2+); Redis 7.0 "
    "always reports 'quicklist', so list diff tests do not compare OBJECT ENCODING.",
    "help-footer": "The last line of every HELP reply is '    Print this help.' in Valkey 8 "
    "where Redis 7.0 says '    Prints this help.'.",
    "scan-negative-cursor": "SCAN -1 is 'ERR invalid cursor' in Valkey 8 (string2ull refuses "
    "canonical negative numbers); Redis 7.0's strtoull wraps it to 2**64-1.",
    "scan-novalues-noscores": "SCAN 0 NOVALUES/NOSCORES name the HSCAN/ZSCAN-only option in "
    "Valkey 8's error; Redis 7.0 has no such options and says 'syntax error'.",
    "scan-unknown-type": "SCAN ... TYPE <unknown name> is 'ERR unknown type name' in Valkey 8; "
    "Redis 7.0 accepts any name and returns no keys.",
    "set-encoding-listpack": "Small sets with non-integer members are 'listpack' in Valkey 8 "
    "(set-max-listpack-entries/-value, Redis 7.2+); Redis 7.0 reports 'hashtable', so set diff "
    "tests do not compare OBJECT ENCODING.",
    "hscan-novalues": "HSCAN ... NOVALUES (Valkey 8) returns field names only; Redis 7.0 has no "
    "such option and replies 'syntax error'.",
    "hash-field-expiry": "HEXPIRE/HPEXPIRE/HEXPIREAT/HPEXPIREAT/HTTL/HPTTL/HEXPIRETIME/HPEXPIRETIME/"
    "HPERSIST/HGETEX/HSETEX (Valkey 9 field expiry) do not exist in Redis 7.0: tested against "
    "Valkey's source, not the oracle.",
    "nested-multi-error": "MULTI or WATCH inside MULTI is refused as a NO_MULTI command in "
    "Valkey 8 ('ERR Command not allowed inside a transaction'); Redis 7.0 says 'ERR MULTI calls "
    "can not be nested' / 'ERR WATCH inside MULTI is not allowed'. Both doom the EXEC.",
    "set-past-deadline": "SET key value EXAT/PXAT <past time> deletes the key at once in "
    "Valkey 8 (a 'del' event, or nothing for a new key); Redis 7.0 stores it with the TTL and "
    "emits 'set' + 'expire', the key expiring later.",
    "msetnx-command-tips": "COMMAND INFO/DOCS MSETNX has no tips in Valkey 8; Redis 7.0 lists "
    "request_policy:multi_shard and response_policy:agg_min.",
    "unsubscribe-nosub": "(P|S)UNSUBSCRIBE from a connection subscribed to nothing is "
    "\"NOSUB '<cmd>' command executed not in subscribed mode\" in Valkey 8; Redis 7.0 replies "
    "with an unsubscribe message for a null channel and count 0.",
    "zset-double-format": "Scores are printed by fpconv_dtoa in Valkey 8 (ZSCORE of 1.1 is '1.1', "
    "of 1e-7 '1e-7'); Redis 7.0 prints '%.17g' ('1.1000000000000001', '9.9999999999999995e-08'), "
    "so zset diff tests compare scores as numbers.",
    "zrange-negative-offset": "ZRANGEBYSCORE/BYLEX ... LIMIT <negative offset> on a skiplist set "
    "counts from the end of the range in Valkey 8 (zslNthInRange); Redis 7.0 returns nothing. "
    "Listpack sets return nothing in both. Diff tests use offsets >= 0.",
    "zset-listpack-negative-zero": "A listpack sorted set stores a -0 score as the integer 0 in "
    "Valkey 8 (ZSCORE says '0'); Redis 7.0 keeps '-0'. Diff tests compare scores as numbers.",
    "zrank-withscore": "ZRANK/ZREVRANK ... WITHSCORE exist since 7.2: Redis 7.0 replies with an "
    "arity/syntax error, so diff tests do not send it.",
    "bzpop-noscript": "BZPOPMIN/BZPOPMAX are flagged noscript in Redis 7.0 but not in Valkey 8 "
    "(they act as non-blocking pops inside scripts).",
    "zrandmember-range-error": "ZRANDMEMBER with count -9223372036854775808 is 'value is out of "
    "range, value must between ...' in Valkey 8; Redis 7.0 words the range error differently.",
    "stream-xinfo-consumers-inactive": "XINFO CONSUMERS has an 'inactive' field (ms since the last "
    "successful read/claim, -1 if never) in Valkey 8 (Redis 7.2+), and 'idle' counts from the last "
    "attempt; Redis 7.0 replies name/pending/idle only.",
    "stream-xinfo-full-active-time": "XINFO STREAM FULL lists each consumer's 'active-time' next "
    "to 'seen-time' in Valkey 8 (Redis 7.2+); Redis 7.0 has no such field.",
    "stream-xread-plus": "XREAD ... STREAMS key + (the last entry) exists in Valkey 8 (Redis 7.4+); "
    "Redis 7.0 says 'Invalid stream ID', and XREADGROUP with '+' gets Valkey's 'The + ID is "
    "meaningless...' error instead of it.",
    "stream-xread-unbalanced-error": "The unbalanced STREAMS error names the command as "
    "'xread'/'xreadgroup' in Valkey 8 (\"Unbalanced 'xread' list of streams...\"); Redis 7.0 says "
    "'Unbalanced XREAD list of streams...'.",
    "stream-xsetid-max-deleted": "XSETID to an ID below the stream's max-deleted-entry-id fails "
    "in Valkey 8 ('smaller than current max_deleted_entry_id'); Redis 7.0 accepts it.",
    "stream-consumer-creation": "XREADGROUP, XCLAIM and XAUTOCLAIM create the named consumer "
    "whenever they run in Valkey 8 (Redis 7.2+); Redis 7.0 creates it only when something is "
    "read or claimed. Diff tests act for consumers that already exist.",
    "stream-rdb-type-21": "Valkey 8 writes streams as RDB type 21 (STREAM_LISTPACKS_3: consumers "
    "carry active-time) in RDB version 11; Redis 7.0 writes type 19, version 10. Kaa loads "
    "types 15, 19 and 21; diff tests compare the decoded content of DUMP payloads.",
    "bitcount-bitpos-arg-order": "BITCOUNT key start (no end) counts to the end in Valkey 8; "
    "Redis 7.0 says 'syntax error'. Valkey 8 also validates BITCOUNT/BITPOS range arguments "
    "before looking the key up, so a missing or non-string key still gets the syntax / "
    "not-an-integer error; Redis 7.0 answers 0 / -1 / WRONGTYPE first.",
    "geo-distance-rounding": "Valkey 8 prints distances as llrint(d * 10000) with four decimals "
    "(fixedpoint_d2string); Redis 7.0 uses \"%.4f\" of d, so the last decimal can differ by one. "
    "Valkey 8's BYBOX also measures the latitude offset along the meridian instead of a "
    "haversine, so points on a box edge can be in or out differently.",
    "hll-corrupt-run-overflow": "A corrupt sparse HyperLogLog whose runs overflow 16384 "
    "registers: Valkey 8.0.1 (the reference build) stops at the first VAL opcode that would "
    "overflow and accepts the value if the runs before it cover exactly 16384 registers. "
    "Debian's Redis 7.0.15 carries the CVE-2025-32023 fix (also in Valkey 8.0.4+), which "
    "rejects any overflowing run with INVALIDOBJ.",
    "acl-sanitize-payload-flag": "ACL LIST / GETUSER flags always show sanitize-payload (or "
    "skip-sanitize-payload) in Valkey 8; Redis 7.0 only shows them when set explicitly.",
    "acl-command-rules-order": "ACL GETUSER/LIST keep the command rules in the order given, "
    "with lossless compaction (Valkey 8, Redis 7.2+); Redis 7.0 regenerates them from the "
    "command bitmap, so the text (and what it shows for mixed rules) differs.",
    "acl-noperm-text": "NOPERM and ACL DRYRUN texts name the user in Valkey 8 ('User x has no "
    "permissions to run the 'get' command', 'No permissions to access a key'); Redis 7.0 says "
    "'this user has no permissions to run the 'get' command or its subcommand' / 'This user "
    "has no permissions ...'. Which commands are allowed is the same.",
    "acl-file-not-configured-text": "ACL LOAD/SAVE without an aclfile: Valkey 8's text says "
    "'This instance ...' where Redis 7.0 says 'This Redis instance ... Redis configuration'.",
    "acl-log-fields": "ACL LOG entries have entry-id, timestamp-created and "
    "timestamp-last-updated in Valkey 8 (Redis 7.2+); Redis 7.0 has 7 fields.",
    "acl-unmatched-paren-arg": "ACL SETUSER with an unclosed selector: Valkey 8 names the "
    "argument that opened it ('(+PING' in '(+PING (+SELECT (+DEL'), Redis 7.0 the last '(' seen.",
    "dump-rdb-version": "DUMP payloads end with RDB version 11 in Valkey 8 and 10 in Redis 7.0 "
    "(so the CRC differs too); the bodies are the same for the encodings both have. Redis 7.0 "
    "refuses version-11 payloads; Kaa and Valkey take version-10 ones.",
    "restore-always-sanitized": "Kaa checks every RESTORE payload and RDB value as Valkey does "
    "with sanitize-dump-payload yes (listpack/ziplist/intset integrity, duplicates, stream "
    "consumer PELs), whatever the setting: corrupt payloads that Valkey (and Redis) accept with "
    "sanitize-dump-payload no, and crash on later, are 'Bad data format' here.",
    "lua-api-error-texts": "Valkey 8 renamed the script API errors: 'server.log() requires two "
    "arguments or more.', 'Invalid log level.', 'server.set_repl() requires one argument.', "
    "'Please specify at least one argument for this call', 'Command arguments must be strings or "
    "integers', 'Invalid command passed to server.acl_check_cmd()'; Redis 7.0 says redis.* / "
    "'Invalid debug level.' / 'for this redis lib call' / 'Lua redis lib command arguments ...' / "
    "'Unknown Redis command called from script' / 'Wrong number of args calling Redis command'.",
    "lua-globals-valkey8": "Valkey 8 scripts also see the 'server' API table (alias of 'redis', "
    "with SERVER_NAME and VALKEY_VERSION*), REDIS_VERSION 7.2.4, and the globals getfenv, "
    "setfenv, newproxy and os (os.clock only), which Redis 7.0 does not expose.",
    "lua-string-metatable": "In Valkey 8 the string metatable's __index is an empty table, so "
    "('x'):rep(3) is 'attempt to call method' there; Redis 7.0 allows string methods.",
    "lua-number-arguments": "A non-integer Lua number passed to redis.call is formatted the "
    "shortest way in Valkey 8 (0.1 -> '0.1', -0.0 -> '0'); Redis 7.0 uses %.17g ('0.10000000000000001').",
    "lua-blocking-commands": "Valkey 8 lets scripts call blocking commands (BLPOP, BZPOPMIN, ...), "
    "which then never block; Redis 7.0 refuses them as 'This Redis command is not allowed from "
    "script'.",
    "noscript-text": "EVALSHA of an unknown script is 'NOSCRIPT No matching script.' in Valkey 8; "
    "Redis 7.0 adds ' Please use EVAL.'.",
    "multi-oom-queueing": "Inside MULTI while over maxmemory, Valkey 8.0 refuses only denyoom "
    "commands (GET is QUEUED); Redis 7.0 refuses every command but EXEC/DISCARD/QUIT/RESET.",
}
