/* SPDX-License-Identifier: Apache-2.0 */
/* Stop-signal handling shared by the subcommands (see clisig.h). */
#include "cli/clisig.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "common/spawn.h"

static volatile sig_atomic_t stop_flag;
static enum clisig_repeat repeat_policy; /* written before the handler is installed */
static struct timespec first_signal;     /* CLOCK_MONOTONIC of the first signal */
static struct sigaction old_int, old_term, old_hup;
static bool caught_term, caught_hup;

static void on_stop(int sig)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!stop_flag) {
        first_signal = now;
        stop_flag = 1;
        return;
    }
    if (repeat_policy == CLISIG_REPEAT_KILL_LATER && now.tv_sec - first_signal.tv_sec >= 2) {
        /* the stack's process groups go with the runner (issue 11 #6) */
        spawn_kill_all();
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

volatile sig_atomic_t *clisig_catch(enum clisig_set set, enum clisig_repeat repeat)
{
    stop_flag = 0;
    repeat_policy = repeat;
    caught_term = set == CLISIG_SET_INT_TERM || set == CLISIG_SET_INT_TERM_HUP;
    caught_hup = set == CLISIG_SET_INT_TERM_HUP;
    struct sigaction sa = { .sa_handler = on_stop };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    if (caught_term)
        sigaction(SIGTERM, &sa, &old_term);
    if (caught_hup)
        sigaction(SIGHUP, &sa, &old_hup);
    return &stop_flag;
}

void clisig_restore(void)
{
    sigaction(SIGINT, &old_int, NULL);
    if (caught_term)
        sigaction(SIGTERM, &old_term, NULL);
    if (caught_hup)
        sigaction(SIGHUP, &old_hup, NULL);
}

void clisig_block_stop(sigset_t *ret_set)
{
    sigemptyset(ret_set);
    sigaddset(ret_set, SIGINT);
    sigaddset(ret_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, ret_set, NULL);
}
