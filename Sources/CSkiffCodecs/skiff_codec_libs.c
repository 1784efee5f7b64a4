// See skiff_codec_libs.h: libpng and libjpeg resolved with dlopen/dlsym on first use.
#define SKIFF_WITH_PNG 1
#define SKIFF_WITH_JPEG 1
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <png.h>
#include <stdio.h>
#include <jpeglib.h>

// The tables are filled through the real names, so take the redirecting macros out.
#define SKIFF_CODEC_LIBS_NO_MACROS 1
#include "skiff_codec_libs.h"

static skiff_png_functions png_table;
static skiff_jpeg_functions jpeg_table;
const skiff_png_functions *skiff_png_fn = NULL;
const skiff_jpeg_functions *skiff_jpeg_fn = NULL;
static pthread_once_t png_once = PTHREAD_ONCE_INIT;
static pthread_once_t jpeg_once = PTHREAD_ONCE_INIT;
static char png_failure[160];
static char jpeg_failure[160];

static void *open_first(const char *const *names, size_t count) {
  for (size_t i = 0; i < count; i++) {
    void *handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (handle) return handle;
  }
  return NULL;
}

// Resolves `symbol` into `slot`; remembers the first missing one.
static int resolve(void *handle, const char *symbol, void *slot, char *failure, size_t capacity) {
  void *address = dlsym(handle, symbol);
  if (!address) {
    if (!failure[0]) snprintf(failure, capacity, "%s has no %s", "the library", symbol);
    return 0;
  }
  memcpy(slot, &address, sizeof address);
  return 1;
}

#define RESOLVE(table, field, name, failure) ok &= resolve(handle, name, &(table).field, failure, sizeof failure)

static void load_png(void) {
  static const char *const names[] = {"libpng16.so.16", "libpng16.so", "libpng16.16.dylib", "libpng16.dylib",
                                      "/opt/homebrew/opt/libpng/lib/libpng16.dylib"};
  void *handle = open_first(names, sizeof names / sizeof names[0]);
  if (!handle) {
    snprintf(png_failure, sizeof png_failure, "libpng16 could not be loaded (Debian: libpng16-16)");
    return;
  }
  int ok = 1;
  RESOLVE(png_table, create_info_struct, "png_create_info_struct", png_failure);
  RESOLVE(png_table, create_read_struct, "png_create_read_struct", png_failure);
  RESOLVE(png_table, create_write_struct, "png_create_write_struct", png_failure);
  RESOLVE(png_table, destroy_read_struct, "png_destroy_read_struct", png_failure);
  RESOLVE(png_table, destroy_write_struct, "png_destroy_write_struct", png_failure);
  RESOLVE(png_table, error, "png_error", png_failure);
  RESOLVE(png_table, get_IHDR, "png_get_IHDR", png_failure);
  RESOLVE(png_table, get_channels, "png_get_channels", png_failure);
  RESOLVE(png_table, get_error_ptr, "png_get_error_ptr", png_failure);
  RESOLVE(png_table, get_io_ptr, "png_get_io_ptr", png_failure);
  RESOLVE(png_table, get_pHYs, "png_get_pHYs", png_failure);
  RESOLVE(png_table, get_rowbytes, "png_get_rowbytes", png_failure);
  RESOLVE(png_table, longjmp_, "png_longjmp", png_failure);
  RESOLVE(png_table, read_end, "png_read_end", png_failure);
  RESOLVE(png_table, read_image, "png_read_image", png_failure);
  RESOLVE(png_table, read_info, "png_read_info", png_failure);
  RESOLVE(png_table, read_update_info, "png_read_update_info", png_failure);
  RESOLVE(png_table, set_IHDR, "png_set_IHDR", png_failure);
  RESOLVE(png_table, set_chunk_malloc_max, "png_set_chunk_malloc_max", png_failure);
  RESOLVE(png_table, set_expand, "png_set_expand", png_failure);
  RESOLVE(png_table, set_interlace_handling, "png_set_interlace_handling", png_failure);
  RESOLVE(png_table, set_longjmp_fn, "png_set_longjmp_fn", png_failure);
  RESOLVE(png_table, set_pHYs, "png_set_pHYs", png_failure);
  RESOLVE(png_table, set_read_fn, "png_set_read_fn", png_failure);
  RESOLVE(png_table, set_strip_16, "png_set_strip_16", png_failure);
  RESOLVE(png_table, set_user_limits, "png_set_user_limits", png_failure);
  RESOLVE(png_table, set_write_fn, "png_set_write_fn", png_failure);
  RESOLVE(png_table, sig_cmp, "png_sig_cmp", png_failure);
  RESOLVE(png_table, write_end, "png_write_end", png_failure);
  RESOLVE(png_table, write_info, "png_write_info", png_failure);
  RESOLVE(png_table, write_row, "png_write_row", png_failure);
  if (ok) skiff_png_fn = &png_table;
}

static void load_jpeg(void) {
  static const char *const names[] = {"libjpeg.so.62", "libjpeg.so.8", "libjpeg.so", "libjpeg.8.dylib",
                                      "libjpeg.dylib", "/opt/homebrew/opt/jpeg-turbo/lib/libjpeg.dylib"};
  void *handle = open_first(names, sizeof names / sizeof names[0]);
  if (!handle) {
    snprintf(jpeg_failure, sizeof jpeg_failure, "libjpeg could not be loaded (Debian: libjpeg62-turbo)");
    return;
  }
  int ok = 1;
  RESOLVE(jpeg_table, CreateDecompress, "jpeg_CreateDecompress", jpeg_failure);
  RESOLVE(jpeg_table, destroy_decompress, "jpeg_destroy_decompress", jpeg_failure);
  RESOLVE(jpeg_table, finish_decompress, "jpeg_finish_decompress", jpeg_failure);
  RESOLVE(jpeg_table, has_multiple_scans, "jpeg_has_multiple_scans", jpeg_failure);
  RESOLVE(jpeg_table, mem_src, "jpeg_mem_src", jpeg_failure);
  RESOLVE(jpeg_table, read_header, "jpeg_read_header", jpeg_failure);
  RESOLVE(jpeg_table, read_scanlines, "jpeg_read_scanlines", jpeg_failure);
  RESOLVE(jpeg_table, save_markers, "jpeg_save_markers", jpeg_failure);
  RESOLVE(jpeg_table, start_decompress, "jpeg_start_decompress", jpeg_failure);
  RESOLVE(jpeg_table, std_error, "jpeg_std_error", jpeg_failure);
  if (ok) skiff_jpeg_fn = &jpeg_table;
}

const skiff_png_functions *skiff_load_png(char *why, size_t capacity) {
  pthread_once(&png_once, load_png);
  if (!skiff_png_fn && why && capacity > 0) snprintf(why, capacity, "%s", png_failure);
  return skiff_png_fn;
}

const skiff_jpeg_functions *skiff_load_jpeg(char *why, size_t capacity) {
  pthread_once(&jpeg_once, load_jpeg);
  if (!skiff_jpeg_fn && why && capacity > 0) snprintf(why, capacity, "%s", jpeg_failure);
  return skiff_jpeg_fn;
}
