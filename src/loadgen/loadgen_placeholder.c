/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder so the loadgen library exists before its first module lands; delete it then. */
int loadgen_placeholder(void);
int loadgen_placeholder(void)
{
    return 0;
}
