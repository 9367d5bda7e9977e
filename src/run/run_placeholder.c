/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder so the run library exists before its first module lands; delete it then. */
int run_placeholder(void);
int run_placeholder(void)
{
    return 0;
}
