// libpng and libjpeg, opened with dlopen on first use rather than linked: loading them
// (and zlib) at start-up costs every `skiff` command about 0.4 ms, and only image decoding
// and encoding need them. Include after <png.h> / <jpeglib.h>: the macros below send the
// library calls of skiff_png.c and skiff_jpeg.c through the loaded function tables.
#ifndef SKIFF_CODEC_LIBS_H
#define SKIFF_CODEC_LIBS_H

#ifdef SKIFF_WITH_PNG
#include <png.h>

typedef struct {
  __typeof__(&png_create_info_struct) create_info_struct;
  __typeof__(&png_create_read_struct) create_read_struct;
  __typeof__(&png_create_write_struct) create_write_struct;
  __typeof__(&png_destroy_read_struct) destroy_read_struct;
  __typeof__(&png_destroy_write_struct) destroy_write_struct;
  __typeof__(&png_error) error;
  __typeof__(&png_get_IHDR) get_IHDR;
  __typeof__(&png_get_channels) get_channels;
  __typeof__(&png_get_error_ptr) get_error_ptr;
  __typeof__(&png_get_io_ptr) get_io_ptr;
  __typeof__(&png_get_pHYs) get_pHYs;
  __typeof__(&png_get_rowbytes) get_rowbytes;
  __typeof__(&png_longjmp) longjmp_;
  __typeof__(&png_read_end) read_end;
  __typeof__(&png_read_image) read_image;
  __typeof__(&png_read_info) read_info;
  __typeof__(&png_read_update_info) read_update_info;
  __typeof__(&png_set_IHDR) set_IHDR;
  __typeof__(&png_set_chunk_malloc_max) set_chunk_malloc_max;
  __typeof__(&png_set_expand) set_expand;
  __typeof__(&png_set_interlace_handling) set_interlace_handling;
  __typeof__(&png_set_longjmp_fn) set_longjmp_fn;
  __typeof__(&png_set_pHYs) set_pHYs;
  __typeof__(&png_set_read_fn) set_read_fn;
  __typeof__(&png_set_strip_16) set_strip_16;
  __typeof__(&png_set_user_limits) set_user_limits;
  __typeof__(&png_set_write_fn) set_write_fn;
  __typeof__(&png_sig_cmp) sig_cmp;
  __typeof__(&png_write_end) write_end;
  __typeof__(&png_write_info) write_info;
  __typeof__(&png_write_row) write_row;
} skiff_png_functions;

// The loaded table, or NULL (with `why` filled) when libpng16 cannot be opened.
const skiff_png_functions *skiff_load_png(char *why, size_t capacity);
// Valid once skiff_load_png has succeeded (callbacks run only after that).
extern const skiff_png_functions *skiff_png_fn;

#ifndef SKIFF_CODEC_LIBS_NO_MACROS
#define png_create_info_struct (skiff_png_fn->create_info_struct)
#define png_create_read_struct (skiff_png_fn->create_read_struct)
#define png_create_write_struct (skiff_png_fn->create_write_struct)
#define png_destroy_read_struct (skiff_png_fn->destroy_read_struct)
#define png_destroy_write_struct (skiff_png_fn->destroy_write_struct)
#define png_error (skiff_png_fn->error)
#define png_get_IHDR (skiff_png_fn->get_IHDR)
#define png_get_channels (skiff_png_fn->get_channels)
#define png_get_error_ptr (skiff_png_fn->get_error_ptr)
#define png_get_io_ptr (skiff_png_fn->get_io_ptr)
#define png_get_pHYs (skiff_png_fn->get_pHYs)
#define png_get_rowbytes (skiff_png_fn->get_rowbytes)
#define png_longjmp (skiff_png_fn->longjmp_)
#define png_read_end (skiff_png_fn->read_end)
#define png_read_image (skiff_png_fn->read_image)
#define png_read_info (skiff_png_fn->read_info)
#define png_read_update_info (skiff_png_fn->read_update_info)
#define png_set_IHDR (skiff_png_fn->set_IHDR)
#define png_set_chunk_malloc_max (skiff_png_fn->set_chunk_malloc_max)
#define png_set_expand (skiff_png_fn->set_expand)
#define png_set_interlace_handling (skiff_png_fn->set_interlace_handling)
#define png_set_longjmp_fn (skiff_png_fn->set_longjmp_fn)
#define png_set_pHYs (skiff_png_fn->set_pHYs)
#define png_set_read_fn (skiff_png_fn->set_read_fn)
#define png_set_strip_16 (skiff_png_fn->set_strip_16)
#define png_set_user_limits (skiff_png_fn->set_user_limits)
#define png_set_write_fn (skiff_png_fn->set_write_fn)
#define png_sig_cmp (skiff_png_fn->sig_cmp)
#define png_write_end (skiff_png_fn->write_end)
#define png_write_info (skiff_png_fn->write_info)
#define png_write_row (skiff_png_fn->write_row)
#endif
#endif

#ifdef SKIFF_WITH_JPEG
#include <stdio.h>
#include <jpeglib.h>

typedef struct {
  __typeof__(&jpeg_CreateDecompress) CreateDecompress;
  __typeof__(&jpeg_destroy_decompress) destroy_decompress;
  __typeof__(&jpeg_finish_decompress) finish_decompress;
  __typeof__(&jpeg_has_multiple_scans) has_multiple_scans;
  __typeof__(&jpeg_mem_src) mem_src;
  __typeof__(&jpeg_read_header) read_header;
  __typeof__(&jpeg_read_scanlines) read_scanlines;
  __typeof__(&jpeg_save_markers) save_markers;
  __typeof__(&jpeg_start_decompress) start_decompress;
  __typeof__(&jpeg_std_error) std_error;
} skiff_jpeg_functions;

const skiff_jpeg_functions *skiff_load_jpeg(char *why, size_t capacity);
extern const skiff_jpeg_functions *skiff_jpeg_fn;

#ifndef SKIFF_CODEC_LIBS_NO_MACROS
#define jpeg_CreateDecompress (skiff_jpeg_fn->CreateDecompress)
#define jpeg_destroy_decompress (skiff_jpeg_fn->destroy_decompress)
#define jpeg_finish_decompress (skiff_jpeg_fn->finish_decompress)
#define jpeg_has_multiple_scans (skiff_jpeg_fn->has_multiple_scans)
#define jpeg_mem_src (skiff_jpeg_fn->mem_src)
#define jpeg_read_header (skiff_jpeg_fn->read_header)
#define jpeg_read_scanlines (skiff_jpeg_fn->read_scanlines)
#define jpeg_save_markers (skiff_jpeg_fn->save_markers)
#define jpeg_start_decompress (skiff_jpeg_fn->start_decompress)
#define jpeg_std_error (skiff_jpeg_fn->std_error)
#endif
#endif

#endif
