/* SPDX-License-Identifier: Apache-2.0 */
/* funk-image: standalone front end of the OCI image builder (`funk-image build ELF -t NAME ...`).
 */
#include "image.h"

int main(int argc, char **argv)
{
    return funk_image_main(argc, argv);
}
