/* gc_mod.c - a module for gc_roots: dlopen'd at run time, it holds one
 * heap pointer in its initialized data (.data, between two non-pointer
 * tags), which the collector must treat as a root like the program's own
 * data. gc_roots writes and reads the slot through dlsym. */
#include <stdint.h>

struct gc_mod_data {
    uint64_t head;          /* 0x676372 "gcr": keeps the struct in .data */
    void *volatile slot;    /* the only pointer to gc_roots' object */
    uint64_t tail;
};

struct gc_mod_data gc_mod_data = { 0x676372, 0, 0x676372 };
