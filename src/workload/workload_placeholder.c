/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder so the workload library exists before its first module lands; delete it then. */
int workload_placeholder(void);
int workload_placeholder(void)
{
    return 0;
}
