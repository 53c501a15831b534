// Glibc's Swift module hides `struct ucred` unless _GNU_SOURCE is defined before any
// system header, which Swift cannot do for us; this tiny translation unit can.
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>
#include "CPeerCredentials.h"

int ledger_read_peer_credentials(int fd, ledger_peer_credentials *out) {
    struct ucred cred;
    socklen_t length = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
        return errno;
    }
    out->pid = cred.pid;
    out->uid = cred.uid;
    out->gid = cred.gid;
    return 0;
}
