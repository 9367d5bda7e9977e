/* SPDX-License-Identifier: Apache-2.0 */
/* Stop signals (SIGINT, SIGTERM, SIGHUP) for the subcommands, in one place: either caught into a
 * flag that a long run polls, so that it stops and still writes what it measured (load, bundle,
 * doctor), or blocked so that one thread takes them with sigwait (serve, observe). */
#ifndef KVTIER_CLI_CLISIG_H
#define KVTIER_CLI_CLISIG_H

#include <signal.h>

/* Which stop signals clisig_catch takes over. */
enum clisig_set {
    CLISIG_SET_INT,          /* SIGINT only; SIGTERM keeps its action */
    CLISIG_SET_INT_TERM,     /* SIGINT and SIGTERM */
    CLISIG_SET_INT_TERM_HUP, /* SIGINT, SIGTERM and SIGHUP (a closed terminal, a supervisor) */
};

/* What a stop signal does once the flag is already set. */
enum clisig_repeat {
    CLISIG_REPEAT_IGNORE,     /* nothing: the run winds down at its own pace */
    CLISIG_REPEAT_KILL_LATER, /* the default action, but only 2 s or more (by whole seconds of
                               * CLOCK_MONOTONIC) after the first: copies of the first that
                               * arrive together (timeout(1) signals the process and then its
                               * group) are ignored */
};

/* Installs a handler for the signals of set that sets the returned flag to 1 on the first signal
 * and then acts as repeat says; the flag is cleared first. The handler is async-signal-safe; it
 * does not restart interrupted system calls (no SA_RESTART). Call once per process, from the main
 * thread, before the run that polls the flag. Returns the flag (borrowed: static storage, valid for
 * the life of the process). */
volatile sig_atomic_t *clisig_catch(enum clisig_set set, enum clisig_repeat repeat);

/* Puts back the actions clisig_catch replaced. Main thread only. */
void clisig_restore(void);

/* Blocks SIGINT and SIGTERM in the calling thread (threads it creates later inherit the mask)
 * and fills *ret_set with them, for sigwait/sigtimedwait. */
void clisig_block_stop(sigset_t *ret_set);

#endif
