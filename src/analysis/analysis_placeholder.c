/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder so the analysis library exists before its first module lands; delete it then. */
int analysis_placeholder(void);
int analysis_placeholder(void)
{
    return 0;
}
