/* Standalone build of the scripted test producer: `make -C native` (build/synthetic_producer). */
#include "kcs_reader.h"

int main(int argc, char **argv) { return kcs_synthetic_main(argc, argv); }
