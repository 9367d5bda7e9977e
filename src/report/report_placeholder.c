/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder so the report library exists before its first module lands; delete it then. */
int report_placeholder(void);
int report_placeholder(void)
{
    return 0;
}
