/* heap_sizeclass: the class table and its lookup tables (see the header). */
#include "core/heap_sizeclass.h"

#define C(s, p, n) { s, p, n, 0, 0 }
struct gr_sizeclass gr_class[GR_NCLASSES] = {
	C(0, 0, 0),
	C(8, 1, 1024), C(16, 1, 512), C(32, 1, 256), C(48, 1, 170), C(64, 1, 128),
	C(80, 1, 102), C(96, 1, 85), C(112, 1, 73), C(128, 1, 64), C(144, 1, 56),
	C(160, 1, 51), C(176, 1, 46), C(192, 1, 42), C(208, 1, 39), C(224, 1, 36),
	C(240, 1, 34), C(256, 1, 32), C(288, 1, 28), C(320, 1, 25), C(352, 1, 23),
	C(384, 1, 21), C(416, 1, 19), C(448, 1, 18), C(480, 1, 17), C(512, 1, 16),
	C(576, 1, 14), C(640, 1, 12), C(704, 1, 11), C(768, 1, 10), C(832, 2, 19),
	C(896, 1, 9), C(1024, 1, 8), C(1152, 1, 7), C(1280, 1, 6), C(1408, 2, 11),
	C(1536, 1, 5), C(1664, 3, 14), C(1792, 2, 9), C(2048, 1, 4), C(2304, 2, 7),
	C(2560, 1, 3), C(2816, 4, 11), C(3072, 2, 5), C(3328, 3, 7), C(3584, 4, 9),
	C(4096, 1, 2), C(4608, 3, 5), C(5120, 2, 3), C(5632, 5, 7), C(6144, 3, 4),
	C(6656, 5, 6), C(7168, 7, 8), C(8192, 1, 1), C(9216, 6, 5), C(10240, 4, 3),
	C(11264, 7, 5), C(12288, 3, 2), C(13312, 5, 3), C(14336, 7, 4), C(16384, 2, 1),
	C(18432, 7, 3), C(20480, 5, 2), C(22528, 11, 4), C(24576, 3, 1), C(26624, 10, 3),
	C(28672, 7, 2), C(32768, 4, 1),
};
#undef C

uint8_t gr_class8[1024 / 8 + 1];
uint8_t gr_class128[(GR_MAXSMALL - 1024) / 128 + 1];

void gr_sizeclass_init(void)
{
	unsigned c = 1;
	for (size_t i = 0; i < sizeof gr_class8; i++) {
		size_t size = i * 8;
		while (gr_class[c].size < size)
			c++;
		gr_class8[i] = (uint8_t)c;
	}
	for (size_t i = 0; i < sizeof gr_class128; i++) {
		size_t size = 1024 + i * 128;
		while (gr_class[c].size < size)
			c++;
		gr_class128[i] = (uint8_t)c;
	}
	for (unsigned k = 1; k < GR_NCLASSES; k++) {
		struct gr_sizeclass *sc = &gr_class[k];
		/* Go's divMagic: exact for every offset inside the span. */
		sc->divmul = (uint32_t)(UINT32_MAX / sc->size + 1);
		/* About 16 KiB per move, 2..128 objects. */
		unsigned b = 16384 / sc->size;
		sc->batch = (uint16_t)(b < 2 ? 2 : b > 128 ? 128 : b);
	}
}
