// C shims around libpng and libjpeg.
//
// Both libraries report fatal errors by longjmp-ing out of a callback, which
// Swift cannot do safely. These functions keep the setjmp/longjmp dance in C
// and hand Swift a status code, a message, and a malloc'd pixel buffer.
#ifndef SKIFF_CODECS_H
#define SKIFF_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SKIFF_CODEC_OK = 0,
  SKIFF_CODEC_TRUNCATED = 1,   // the data ended before the image did
  SKIFF_CODEC_CORRUPT = 2,     // the library rejected the data
  SKIFF_CODEC_TOO_LARGE = 3,   // header dimensions exceed the caller's limits
  SKIFF_CODEC_NO_MEMORY = 4,
  SKIFF_CODEC_UNSUPPORTED = 5  // valid but not something we decode (e.g. 12-bit JPEG)
} skiff_codec_status;

typedef struct {
  uint64_t max_pixels;  // width * height limit checked before any allocation
  uint32_t max_dimension; // limit on width and on height
} skiff_codec_limits;

typedef struct {
  uint32_t width;
  uint32_t height;
  uint32_t channels;    // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; always 8 bits per sample
  int has_density;      // 1 when the file states its resolution in absolute units
  double dpi_x;
  double dpi_y;
  // Format details, for diagnostics and tests.
  int source_bit_depth;
  int source_color;     // PNG color type, or libjpeg J_COLOR_SPACE of the file
  int interlaced;       // PNG Adam7 / progressive JPEG
  // JPEG only: the first APP1 "Exif" payload (TIFF header onwards), malloc'd; NULL if none.
  uint8_t *exif;
  size_t exif_size;
} skiff_image_info;

/// Decodes a whole PNG held in memory. On success *pixels is a malloc'd buffer
/// of width*height*channels bytes that the caller frees with skiff_codec_free.
skiff_codec_status skiff_png_decode(const uint8_t *data, size_t size,
                                    skiff_codec_limits limits,
                                    skiff_image_info *info, uint8_t **pixels,
                                    char *message, size_t message_capacity);

/// Decodes a whole JPEG held in memory; same contract as skiff_png_decode.
/// CMYK/YCCK files are converted to RGB (Adobe-inverted CMYK handled).
skiff_codec_status skiff_jpeg_decode(const uint8_t *data, size_t size,
                                     skiff_codec_limits limits,
                                     skiff_image_info *info, uint8_t **pixels,
                                     char *message, size_t message_capacity);

/// Encodes 8-bit pixels as PNG. dpi <= 0 writes no pHYs chunk.
/// On success *out is a malloc'd buffer of *out_size bytes.
skiff_codec_status skiff_png_encode(const uint8_t *pixels, uint32_t width,
                                    uint32_t height, uint32_t channels,
                                    double dpi, uint8_t **out, size_t *out_size,
                                    char *message, size_t message_capacity);

void skiff_codec_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif
