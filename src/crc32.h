/* crc32.h - CRC-32 (IEEE 802.3, the one zlib and PNG use). */
#ifndef CRC32_H
#define CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc of `n` bytes, continuing from `crc` (start with 0) */
uint32_t crc32_update(uint32_t crc, const void *data, size_t n);

#endif
