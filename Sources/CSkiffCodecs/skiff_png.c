// libpng decoding/encoding behind a setjmp boundary (see skiff_codecs.h).
#include "skiff_codecs.h"

#define SKIFF_WITH_PNG 1
#include <png.h>
#include "skiff_codec_libs.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const uint8_t *data;
  size_t size;
  size_t offset;
  int hit_end;            // the reader ran out of bytes: truncation, not corruption
  char message[256];
} png_reader;

static void read_bytes(png_structp png, png_bytep out, size_t length) {
  png_reader *reader = (png_reader *)png_get_io_ptr(png);
  if (length > reader->size - reader->offset) {
    reader->hit_end = 1;
    png_error(png, "unexpected end of data");
  }
  memcpy(out, reader->data + reader->offset, length);
  reader->offset += length;
}

static void on_error(png_structp png, png_const_charp message) {
  png_reader *reader = (png_reader *)png_get_error_ptr(png);
  if (reader && reader->message[0] == 0) {
    snprintf(reader->message, sizeof reader->message, "%s", message);
  }
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
  // Warnings (unknown chunks, bad sRGB profiles) do not affect pixels; stay quiet.
  (void)png;
  (void)message;
}

static void put_message(char *dst, size_t capacity, const char *text) {
  if (dst && capacity > 0) snprintf(dst, capacity, "%s", text);
}

skiff_codec_status skiff_png_decode(const uint8_t *data, size_t size,
                                    skiff_codec_limits limits,
                                    skiff_image_info *info, uint8_t **pixels,
                                    char *message, size_t message_capacity) {
  memset(info, 0, sizeof *info);
  *pixels = NULL;
  if (!skiff_load_png(message, message_capacity)) return SKIFF_CODEC_UNSUPPORTED;
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
    put_message(message, message_capacity, size < 8 ? "file too short for a PNG signature" : "not a PNG signature");
    return size < 8 ? SKIFF_CODEC_TRUNCATED : SKIFF_CODEC_CORRUPT;
  }

  png_reader reader = {data, size, 0, 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_error, on_warning);
  if (!png) {
    put_message(message, message_capacity, "libpng could not allocate its state");
    return SKIFF_CODEC_NO_MEMORY;
  }
  png_infop png_info = png_create_info_struct(png);
  if (!png_info) {
    png_destroy_read_struct(&png, NULL, NULL);
    put_message(message, message_capacity, "libpng could not allocate its state");
    return SKIFF_CODEC_NO_MEMORY;
  }

  // Everything that must survive a longjmp is volatile or allocated before setjmp.
  uint8_t *volatile buffer = NULL;
  png_bytep *volatile rows = NULL;
  volatile skiff_codec_status status = SKIFF_CODEC_CORRUPT;

  if (setjmp(png_jmpbuf(png))) {
    if (status != SKIFF_CODEC_TOO_LARGE && status != SKIFF_CODEC_NO_MEMORY) {
      status = reader.hit_end ? SKIFF_CODEC_TRUNCATED : SKIFF_CODEC_CORRUPT;
      if (strstr(reader.message, "exceeds user limit")) status = SKIFF_CODEC_TOO_LARGE;
    }
    put_message(message, message_capacity, reader.message[0] ? reader.message : "libpng error");
    free(buffer);
    free(rows);
    png_destroy_read_struct(&png, &png_info, NULL);
    return status;
  }

  png_set_read_fn(png, &reader, read_bytes);
  // Ancillary-chunk bombs (huge zTXt/iCCP) are capped; pixel limits are checked below.
  png_set_chunk_malloc_max(png, 64u << 20);
  // libpng's own dimension limits would reject a bomb as "Invalid IHDR data";
  // lift them to the format's maximum so the check below can name the size.
  png_set_user_limits(png, 0x7fffffffU, 0x7fffffffU);
  png_read_info(png, png_info);

  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, png_info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
  info->width = width;
  info->height = height;
  if ((limits.max_pixels > 0 && (uint64_t)width * (uint64_t)height > limits.max_pixels) ||
      (limits.max_dimension > 0 && (width > limits.max_dimension || height > limits.max_dimension))) {
    status = SKIFF_CODEC_TOO_LARGE;
    snprintf(reader.message, sizeof reader.message,
             "%ux%u pixels exceeds the limit of %llu pixels", (unsigned)width, (unsigned)height,
             (unsigned long long)limits.max_pixels);
    png_longjmp(png, 1);
  }

  png_uint_32 res_x = 0, res_y = 0;
  int unit = 0;
  if (png_get_pHYs(png, png_info, &res_x, &res_y, &unit) && unit == PNG_RESOLUTION_METER) {
    info->has_density = 1;
    info->dpi_x = res_x * 0.0254;
    info->dpi_y = res_y * 0.0254;
  }

  // Canonical output: 8-bit gray / gray+alpha / RGB / RGBA. Palette and low bit
  // depths expand, tRNS becomes alpha, 16-bit keeps the high byte (as Pillow does).
  png_set_expand(png);
  png_set_strip_16(png);
  int passes = png_set_interlace_handling(png);
  (void)passes;
  png_read_update_info(png, png_info);

  int channels = png_get_channels(png, png_info);
  size_t row_bytes = png_get_rowbytes(png, png_info);
  if (channels < 1 || channels > 4 || row_bytes != (size_t)width * (size_t)channels) {
    status = SKIFF_CODEC_UNSUPPORTED;
    snprintf(reader.message, sizeof reader.message, "unexpected PNG layout after expansion");
    png_longjmp(png, 1);
  }
  buffer = (uint8_t *)malloc(row_bytes * height);
  rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
  if (!buffer || !rows) {
    status = SKIFF_CODEC_NO_MEMORY;
    snprintf(reader.message, sizeof reader.message, "out of memory for %ux%u pixels", (unsigned)width, (unsigned)height);
    png_longjmp(png, 1);
  }
  for (png_uint_32 y = 0; y < height; y++) rows[y] = buffer + (size_t)y * row_bytes;
  png_read_image(png, rows);
  // Reading to IEND catches files cut after the last IDAT and trailing CRC errors.
  png_read_end(png, NULL);

  info->width = width;
  info->height = height;
  info->channels = (uint32_t)channels;
  info->source_bit_depth = bit_depth;
  info->source_color = color_type;
  info->interlaced = interlace != PNG_INTERLACE_NONE;
  free(rows);
  png_destroy_read_struct(&png, &png_info, NULL);
  *pixels = buffer;
  return SKIFF_CODEC_OK;
}

typedef struct {
  uint8_t *data;
  size_t size;
  size_t capacity;
  int failed;
  char message[256];
} png_writer;

static void write_bytes(png_structp png, png_bytep bytes, size_t length) {
  png_writer *writer = (png_writer *)png_get_io_ptr(png);
  if (writer->size + length > writer->capacity) {
    size_t capacity = writer->capacity ? writer->capacity : 4096;
    while (capacity < writer->size + length) capacity *= 2;
    uint8_t *grown = (uint8_t *)realloc(writer->data, capacity);
    if (!grown) {
      writer->failed = 1;
      png_error(png, "out of memory while encoding");
    }
    writer->data = grown;
    writer->capacity = capacity;
  }
  memcpy(writer->data + writer->size, bytes, length);
  writer->size += length;
}

static void flush_nothing(png_structp png) { (void)png; }

static void on_write_error(png_structp png, png_const_charp message) {
  png_writer *writer = (png_writer *)png_get_error_ptr(png);
  if (writer && writer->message[0] == 0) snprintf(writer->message, sizeof writer->message, "%s", message);
  png_longjmp(png, 1);
}

skiff_codec_status skiff_png_encode(const uint8_t *pixels, uint32_t width,
                                    uint32_t height, uint32_t channels,
                                    double dpi, uint8_t **out, size_t *out_size,
                                    char *message, size_t message_capacity) {
  *out = NULL;
  *out_size = 0;
  if (!skiff_load_png(message, message_capacity)) return SKIFF_CODEC_UNSUPPORTED;
  static const int color_types[5] = {-1, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                     PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  if (channels < 1 || channels > 4 || width == 0 || height == 0) {
    put_message(message, message_capacity, "cannot encode an empty image or an unknown layout");
    return SKIFF_CODEC_UNSUPPORTED;
  }
  png_writer writer = {NULL, 0, 0, 0, {0}};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &writer, on_write_error, on_warning);
  png_infop png_info = png ? png_create_info_struct(png) : NULL;
  if (!png || !png_info) {
    if (png) png_destroy_write_struct(&png, NULL);
    put_message(message, message_capacity, "libpng could not allocate its state");
    return SKIFF_CODEC_NO_MEMORY;
  }
  if (setjmp(png_jmpbuf(png))) {
    put_message(message, message_capacity, writer.message[0] ? writer.message : "libpng error");
    free(writer.data);
    png_destroy_write_struct(&png, &png_info);
    return writer.failed ? SKIFF_CODEC_NO_MEMORY : SKIFF_CODEC_CORRUPT;
  }
  png_set_write_fn(png, &writer, write_bytes, flush_nothing);
  png_set_IHDR(png, png_info, width, height, 8, color_types[channels], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (dpi > 0) {
    png_uint_32 ppm = (png_uint_32)(dpi / 0.0254 + 0.5);
    png_set_pHYs(png, png_info, ppm, ppm, PNG_RESOLUTION_METER);
  }
  png_write_info(png, png_info);
  size_t stride = (size_t)width * channels;
  for (uint32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
  png_write_end(png, png_info);
  png_destroy_write_struct(&png, &png_info);
  *out = writer.data;
  *out_size = writer.size;
  return SKIFF_CODEC_OK;
}

void skiff_codec_free(void *pointer) { free(pointer); }
