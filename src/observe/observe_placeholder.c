/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder so the observe library exists before its first module lands; delete it then. */
int observe_placeholder(void);
int observe_placeholder(void)
{
    return 0;
}
