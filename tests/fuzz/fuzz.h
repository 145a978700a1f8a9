/* The libFuzzer entry point every fuzz target defines; replay.c drives it outside libFuzzer. */
#ifndef SPINDLE_TESTS_FUZZ_FUZZ_H
#define SPINDLE_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
