/* SPDX-License-Identifier: Apache-2.0 */
/* OCI image builder for unikernels: `funk image build ELF -t NAME ...` (linked by the funk CLI). */
#ifndef FUNK_OCI_IMAGE_H
#define FUNK_OCI_IMAGE_H

#ifdef __cplusplus
extern "C" {
#endif

/* argv[0] is "image" (or the program name); argv[1] the subcommand ("build").
 * Writes an OCI image layout directory (-o DIR) and/or an oci-archive tarball (--archive FILE)
 * holding the unikernel as /NAME.elf and /funk.json, annotated with org.funk.unikernel.*.
 * Returns a process exit status: 0 on success, 1 on error (message on stderr), 64 on a usage
 * error (docs/cli.md). */
int funk_image_main(int argc, char **argv);
/* "funk image" or "funk-image": how funk_image_main was called (for messages). */
extern const char *funk_image_prog;

#ifdef __cplusplus
}
#endif

#endif
