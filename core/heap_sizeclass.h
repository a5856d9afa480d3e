/* heap_sizeclass: the size classes of the heap (Go's sizeclasses.go idea,
 * own table).
 *
 * 67 classes from 8 bytes to 32 KiB plus class 0 (large: own span). Every
 * class above 8 is a multiple of 16, so every request over 8 bytes is
 * 16-byte aligned (glibc's promise). Spacing is 16 up to 128, then the
 * largest power of two <= size/8, so a request wastes at most 1/8 of its
 * object above 128 bytes; each class's span (1..11 pages of 8 KiB) is the
 * smallest whose tail left over after the last object is <= 1/16 of the
 * span. Powers of two from 16 to 32 KiB are classes, which memalign uses
 * (an object of a class that is a multiple of A is A-aligned, spans being
 * page-aligned). The table was produced by a small generator (the rule
 * above); check_heap verifies these properties for every class.
 *
 * Lookup is two small byte tables built once at heap init:
 * size <= 1024 by (size + 7) / 8, larger by (size - 1024 + 127) / 128.
 */
#ifndef GR_HEAP_SIZECLASS_H
#define GR_HEAP_SIZECLASS_H

#include <stddef.h>
#include <stdint.h>
#include "core/throw.h"

#define GR_NCLASSES 68			/* class 0 = large */
#define GR_MAXSMALL 32768
#define GR_PAGESHIFT 13
#define GR_PAGESIZE ((size_t)1 << GR_PAGESHIFT)

struct gr_sizeclass {
	uint32_t size;		/* object size = usable size */
	uint16_t npages;	/* span size in pages */
	uint16_t nelems;	/* objects per span */
	uint32_t divmul;	/* (off * divmul) >> 32 == off / size for off < span */
	uint16_t batch;		/* objects moved between cache and central at once */
};

GR_HIDDEN extern struct gr_sizeclass gr_class[GR_NCLASSES];
GR_HIDDEN extern uint8_t gr_class8[1024 / 8 + 1];
GR_HIDDEN extern uint8_t gr_class128[(GR_MAXSMALL - 1024) / 128 + 1];

/* Fill the derived fields and the lookup tables (idempotent). */
GR_HIDDEN void gr_sizeclass_init(void);

/* Size class for size (0 < size <= GR_MAXSMALL). */
static inline unsigned gr_size_to_class(size_t size)
{
	if (size <= 1024)
		return gr_class8[(size + 7) >> 3];
	return gr_class128[(size - 1024 + 127) >> 7];
}

#endif
