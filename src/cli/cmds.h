/* SPDX-License-Identifier: Apache-2.0 */
/* Entry points of the subcommands, one file each (cmd_<name>.c). Each returns the exit code:
 * 0 ok, 1 runtime failure, 2 usage error, 3 finished but not valid. */
#ifndef KVTIER_CLI_CMDS_H
#define KVTIER_CLI_CMDS_H

int cmd_serve_main(int argc, char **argv);
int cmd_plan_main(int argc, char **argv);
int cmd_load_main(int argc, char **argv);
int cmd_observe_main(int argc, char **argv);
int cmd_probe_main(int argc, char **argv);
int cmd_bundle_main(int argc, char **argv);
int cmd_compare_main(int argc, char **argv);
int cmd_slo_main(int argc, char **argv);
int cmd_sweep_main(int argc, char **argv);
int cmd_matrix_main(int argc, char **argv);
int cmd_report_main(int argc, char **argv);
int cmd_doctor_main(int argc, char **argv);
int cmd_tokenize_main(int argc, char **argv);
int cmd_calibrate_main(int argc, char **argv);
int cmd_whatif_main(int argc, char **argv);

#endif
