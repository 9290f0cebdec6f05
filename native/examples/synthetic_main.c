/* Standalone build of the example producer: `make -C native examples`. */
#include "kcs_reader.h"

int main(int argc, char **argv) { return kcs_synthetic_main(argc, argv); }
