#include <cblas.h>
// Thread control of OpenBLAS (declared in cblas.h on Debian; repeated for other layouts).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
