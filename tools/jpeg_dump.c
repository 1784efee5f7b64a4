/* Decode a JPEG with the system libjpeg using library defaults
 * (JDCT_ISLOW, fancy upsampling, default output colour space) and write the
 * raw decoded samples to stdout, preceded by one text line:
 *   "<width> <height> <components> <out_color_space>\n"
 * Used by tools/check_jpeg_libjpeg.py to cross-check Pillow's decoding.
 * With -n the samples are decoded but not written, and images over 16M
 * pixels stop after the header (used by tools/make_malformed_fixtures.py).
 * Build: gcc -O2 -o jpeg_dump tools/jpeg_dump.c -ljpeg
 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <jpeglib.h>

struct err { struct jpeg_error_mgr pub; jmp_buf jb; };

static void on_error(j_common_ptr cinfo) {
  struct err *e = (struct err *)cinfo->err;
  char msg[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, msg);
  fprintf(stderr, "libjpeg error: %s\n", msg);
  longjmp(e->jb, 1);
}

int main(int argc, char **argv) {
  int quiet = argc == 3 && strcmp(argv[1], "-n") == 0;
  if (argc != 2 && !quiet) { fprintf(stderr, "usage: %s [-n] file.jpg\n", argv[0]); return 2; }
  const char *path = argv[argc - 1];
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return 2; }
  struct jpeg_decompress_struct cinfo;
  struct err jerr;
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = on_error;
  if (setjmp(jerr.jb)) { jpeg_destroy_decompress(&cinfo); fclose(f); return 1; }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  if (quiet && (double)cinfo.image_width * cinfo.image_height > 16e6) {
    printf("%u %u %d %d\n", cinfo.image_width, cinfo.image_height,
           cinfo.num_components, (int)cinfo.out_color_space);
    fprintf(stderr, "header only (image too large to decode here)\n");
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    return 0;
  }
  jpeg_start_decompress(&cinfo);
  size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
  unsigned char *row = malloc(stride);
  printf("%u %u %d %d\n", cinfo.output_width, cinfo.output_height,
         cinfo.output_components, (int)cinfo.out_color_space);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rp = row;
    jpeg_read_scanlines(&cinfo, &rp, 1);
    if (!quiet) fwrite(row, 1, stride, stdout);
  }
  jpeg_finish_decompress(&cinfo);
  fprintf(stderr, "warnings: %ld\n", jerr.pub.num_warnings);
  jpeg_destroy_decompress(&cinfo);
  free(row);
  fclose(f);
  return 0;
}
