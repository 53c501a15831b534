#ifndef LEDGER_CPEERCREDENTIALS_H
#define LEDGER_CPEERCREDENTIALS_H

#include <stdint.h>

/// The identity of the process at the other end of a connected Unix domain socket,
/// as the kernel recorded it when the connection was made (SO_PEERCRED).
typedef struct {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
} ledger_peer_credentials;

/// Reads SO_PEERCRED of `fd`. Returns 0 on success, or the errno of getsockopt.
int ledger_read_peer_credentials(int fd, ledger_peer_credentials *out);

#endif
