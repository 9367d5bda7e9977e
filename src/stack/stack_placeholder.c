/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder so the stack library exists before its first module lands; delete it then. */
int stack_placeholder(void);
int stack_placeholder(void)
{
    return 0;
}
