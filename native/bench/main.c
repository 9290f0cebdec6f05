/* Standalone benchmark binary: native/build/kcoro_bench (make -C native). */
#include "bench.h"

int main(int argc, char **argv) { return kcs_bench_main(argc, argv); }
