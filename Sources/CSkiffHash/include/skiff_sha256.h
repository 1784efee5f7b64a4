#ifndef SKIFF_SHA256_H
#define SKIFF_SHA256_H

#include <stddef.h>
#include <stdint.h>

// Streaming SHA-256 (FIPS 180-4). The inbox keys its journal by the content hash of each input,
// and hashing a scan must cost little next to reading it, debug builds included, hence C.
typedef struct {
    uint32_t state[8];
    uint64_t length;      // bytes hashed so far
    uint8_t block[64];
    size_t used;          // bytes waiting in block
} skiff_sha256;

void skiff_sha256_init(skiff_sha256 *ctx);
void skiff_sha256_update(skiff_sha256 *ctx, const void *data, size_t count);
void skiff_sha256_final(skiff_sha256 *ctx, uint8_t digest[32]);

#endif
