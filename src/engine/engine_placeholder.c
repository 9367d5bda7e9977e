/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder so the engine library exists before its first module lands; delete it then. */
int engine_placeholder(void);
int engine_placeholder(void)
{
    return 0;
}
