#ifndef LEDGER_CPEERCREDENTIALS_H
#define LEDGER_CPEERCREDENTIALS_H

#include <stdint.h>

/// The identity of the process at the other end of a connected Unix domain socket, as the
/// kernel recorded it when the connection was made (SO_PEERCRED).
///
/// Same layout as Linux's `struct ucred` (pid_t, uid_t, gid_t), which Glibc's Swift module
/// hides unless _GNU_SOURCE is defined; getsockopt(SO_PEERCRED) fills it directly.
typedef struct {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
} ledger_peer_credentials;

_Static_assert(sizeof(ledger_peer_credentials) == 12, "struct ucred is 12 bytes on Linux");

#endif
