// libjpeg(-turbo) decoding behind a setjmp boundary (see skiff_codecs.h).
#include "skiff_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define SKIFF_WITH_JPEG 1
#include <jpeglib.h>
#include "skiff_codec_libs.h"
#include <jerror.h>

// A progressive file can ask for thousands of scans, each a full pass over the
// coefficients (a CPU bomb); real encoders write about ten.
#define SKIFF_MAX_SCANS 1000

typedef struct {
  struct jpeg_error_mgr base;
  jmp_buf jump;
  int truncated;      // libjpeg hit the end of data and padded the image
  int corrupt_data;   // a warning about damaged entropy-coded data
  char message[JMSG_LENGTH_MAX + 64];
} error_state;

typedef struct {
  struct jpeg_progress_mgr base;
  j_decompress_ptr cinfo;
} progress_state;

static void on_error_exit(j_common_ptr cinfo) {
  error_state *state = (error_state *)cinfo->err;
  if (state->message[0] == 0) (*cinfo->err->format_message)(cinfo, state->message);
  longjmp(state->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  error_state *state = (error_state *)cinfo->err;
  int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF) {
    state->truncated = 1;
  } else if (code == JWRN_EXTRANEOUS_DATA || code == JWRN_ADOBE_XFORM || code == JWRN_BOGUS_ICC ||
             code == JWRN_JFIF_MAJOR) {
    return;  // harmless oddities of real-world encoders; pixels are intact
  } else {
    state->corrupt_data = 1;
  }
  if (state->message[0] == 0) (*cinfo->err->format_message)(cinfo, state->message);
}

static void on_progress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  j_decompress_ptr d = (j_decompress_ptr)cinfo;
  if (d->input_scan_number > SKIFF_MAX_SCANS) {
    error_state *state = (error_state *)cinfo->err;
    snprintf(state->message, sizeof state->message, "more than %d progressive scans", SKIFF_MAX_SCANS);
    longjmp(state->jump, 1);
  }
}

static void put_message(char *dst, size_t capacity, const char *text) {
  if (dst && capacity > 0) snprintf(dst, capacity, "%s", text);
}

// Pillow's CMYK->RGB (libImaging/Convert.c cmyk2rgb) so tiles match the reference pipeline.
static inline uint8_t cmyk_channel(int c, int nk) {
  int tmp = c * nk + 128;
  int v = nk - (((tmp >> 8) + tmp) >> 8);
  return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

static const uint8_t *find_exif(j_decompress_ptr cinfo, size_t *size) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
      *size = m->data_length - 6;
      return m->data + 6;
    }
  }
  return NULL;
}

skiff_codec_status skiff_jpeg_decode(const uint8_t *data, size_t size,
                                     skiff_codec_limits limits,
                                     skiff_image_info *info, uint8_t **pixels,
                                     char *message, size_t message_capacity) {
  memset(info, 0, sizeof *info);
  *pixels = NULL;
  if (!skiff_load_jpeg(message, message_capacity)) return SKIFF_CODEC_UNSUPPORTED;
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) {
    put_message(message, message_capacity, size < 4 ? "file too short for a JPEG" : "no JPEG start-of-image marker");
    return size < 4 ? SKIFF_CODEC_TRUNCATED : SKIFF_CODEC_CORRUPT;
  }

  struct jpeg_decompress_struct cinfo;
  error_state errors;
  progress_state progress;
  memset(&errors, 0, sizeof errors);
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = on_error_exit;
  errors.base.emit_message = on_message;

  uint8_t *volatile buffer = NULL;
  uint8_t *volatile row = NULL;
  uint8_t *volatile exif = NULL;
  volatile skiff_codec_status status = SKIFF_CODEC_CORRUPT;

  if (setjmp(errors.jump)) {
    // Running out of data inside the headers ends in a libjpeg error (no
    // image, bogus marker), but the cause is the missing bytes.
    if (errors.truncated && status == SKIFF_CODEC_CORRUPT) status = SKIFF_CODEC_TRUNCATED;
    put_message(message, message_capacity, errors.message[0] ? errors.message : "libjpeg error");
    free(buffer);
    free(row);
    free(exif);
    jpeg_destroy_decompress(&cinfo);
    return status;
  }

  jpeg_create_decompress(&cinfo);
  progress.base.progress_monitor = on_progress;
  progress.cinfo = &cinfo;
  cinfo.progress = &progress.base;
  // Bounded working memory beyond the output buffer (coefficient buffers of progressive files).
  cinfo.mem->max_memory_to_use = 1024L * 1024L * 1024L;
  jpeg_mem_src(&cinfo, data, (unsigned long)size);
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);
  if (errors.truncated) {
    status = SKIFF_CODEC_TRUNCATED;
    longjmp(errors.jump, 1);
  }

  uint32_t width = cinfo.image_width, height = cinfo.image_height;
  info->width = width;
  info->height = height;
  if ((limits.max_pixels > 0 && (uint64_t)width * height > limits.max_pixels) ||
      (limits.max_dimension > 0 && (width > limits.max_dimension || height > limits.max_dimension))) {
    status = SKIFF_CODEC_TOO_LARGE;
    snprintf(errors.message, sizeof errors.message, "%ux%u pixels exceeds the limit of %llu pixels",
             (unsigned)width, (unsigned)height, (unsigned long long)limits.max_pixels);
    longjmp(errors.jump, 1);
  }
  if (cinfo.data_precision != 8) {
    status = SKIFF_CODEC_UNSUPPORTED;
    snprintf(errors.message, sizeof errors.message, "%d-bit JPEG samples are not supported", cinfo.data_precision);
    longjmp(errors.jump, 1);
  }

  int cmyk = 0;
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; cmyk = 1; break;
    default: cinfo.out_color_space = JCS_RGB; break;
  }
  info->source_color = cinfo.jpeg_color_space;
  info->source_bit_depth = cinfo.data_precision;
  info->interlaced = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;
  if (cinfo.saw_JFIF_marker && cinfo.X_density > 0 && cinfo.Y_density > 0) {
    if (cinfo.density_unit == 1) {
      info->has_density = 1;
      info->dpi_x = cinfo.X_density;
      info->dpi_y = cinfo.Y_density;
    } else if (cinfo.density_unit == 2) {
      info->has_density = 1;
      info->dpi_x = cinfo.X_density * 2.54;
      info->dpi_y = cinfo.Y_density * 2.54;
    }
  }
  size_t exif_size = 0;
  const uint8_t *exif_data = find_exif(&cinfo, &exif_size);
  if (exif_data) {
    exif = (uint8_t *)malloc(exif_size);
    if (exif) memcpy(exif, exif_data, exif_size);
  }

  jpeg_start_decompress(&cinfo);
  uint32_t out_channels = cmyk ? 3 : (uint32_t)cinfo.output_components;
  size_t stride = (size_t)width * out_channels;
  buffer = (uint8_t *)malloc(stride * height);
  if (cmyk) row = (uint8_t *)malloc((size_t)width * 4);
  if (!buffer || (cmyk && !row)) {
    status = SKIFF_CODEC_NO_MEMORY;
    snprintf(errors.message, sizeof errors.message, "out of memory for %ux%u pixels", (unsigned)width, (unsigned)height);
    longjmp(errors.jump, 1);
  }
  // Four-component JPEGs are read with Adobe (inverted) polarity whether or not
  // the Adobe marker is present: Photoshop writes nearly all of them, and
  // Pillow, the reference for InternVL preprocessing, assumes the same.
  int inverted = cmyk;
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t *dst = buffer + (size_t)cinfo.output_scanline * stride;
    JSAMPROW target = cmyk ? (JSAMPROW)row : (JSAMPROW)dst;
    if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) break;
    if (cmyk) {
      for (uint32_t x = 0; x < width; x++) {
        int c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
        if (inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
        int nk = 255 - k;
        dst[3 * x] = cmyk_channel(c, nk);
        dst[3 * x + 1] = cmyk_channel(m, nk);
        dst[3 * x + 2] = cmyk_channel(yy, nk);
      }
    }
  }
  if (errors.truncated || cinfo.output_scanline < cinfo.output_height) {
    status = SKIFF_CODEC_TRUNCATED;
    longjmp(errors.jump, 1);
  }
  jpeg_finish_decompress(&cinfo);
  if (errors.truncated) {
    status = SKIFF_CODEC_TRUNCATED;
    longjmp(errors.jump, 1);
  }
  if (errors.corrupt_data) {
    status = SKIFF_CODEC_CORRUPT;
    longjmp(errors.jump, 1);
  }

  info->width = width;
  info->height = height;
  info->channels = out_channels;
  info->exif = exif;
  info->exif_size = exif ? exif_size : 0;
  free(row);
  jpeg_destroy_decompress(&cinfo);
  *pixels = buffer;
  return SKIFF_CODEC_OK;
}
