/*
 * Preloaded into wrk (LD_PRELOAD) for the "full handshake" case. wrk keeps one SSL object per
 * connection slot and only SSL_clear()s it on reconnect, which keeps the last session: every
 * new connection then offers it for resumption, and a server that issues tickets resumes instead
 * of doing a full handshake. Forgetting the session after each clear makes every connection a
 * full handshake, whatever the server does with tickets.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
int SSL_set_session(SSL *ssl, SSL_SESSION *session);

int SSL_clear(SSL *ssl) {
  static int (*real_clear)(SSL *);
  if (real_clear == NULL) real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
  int cleared = real_clear(ssl);
  SSL_set_session(ssl, NULL);
  return cleared;
}
