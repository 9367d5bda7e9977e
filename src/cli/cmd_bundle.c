/* SPDX-License-Identifier: Apache-2.0 */
/* kvtier bundle: not built yet; reports so plainly instead of pretending. */
#include "cli/cmds.h"
#include "cli/log.h"

int cmd_bundle_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    log_error("this command is not implemented yet");
    return 1;
}
