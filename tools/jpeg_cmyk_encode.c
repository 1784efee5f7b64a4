/* Write a 4-component JPEG with the system libjpeg (Pillow cannot write YCCK).
 *   jpeg_cmyk_encode WIDTH HEIGHT MODE QUALITY < samples.cmyk > out.jpg
 * MODE: "ycck"          Adobe APP14 transform 2 (YCCK, Y and K 2x2 subsampled)
 *       "cmyk-noadobe"  plain CMYK without any Adobe APP14 marker
 * The input is WIDTH*HEIGHT*4 bytes, stored exactly as given (callers pass
 * Adobe-polarity, i.e. inverted, samples like Pillow does for CMYK).
 * Used by tools/make_decode_fixtures.py.
 * Build: gcc -O2 -o jpeg_cmyk_encode tools/jpeg_cmyk_encode.c -ljpeg
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: %s W H ycck|cmyk-noadobe QUALITY\n", argv[0]); return 2; }
  int w = atoi(argv[1]), h = atoi(argv[2]), q = atoi(argv[4]);
  size_t n = (size_t)w * h * 4;
  unsigned char *buf = malloc(n);
  if (!buf || fread(buf, 1, n, stdin) != n) { fprintf(stderr, "short input\n"); return 2; }
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr e;
  c.err = jpeg_std_error(&e);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, stdout);
  c.image_width = w;
  c.image_height = h;
  c.input_components = 4;
  c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, q, TRUE);
  if (strcmp(argv[3], "ycck") == 0) {
    jpeg_set_colorspace(&c, JCS_YCCK);
  } else if (strcmp(argv[3], "cmyk-noadobe") == 0) {
    jpeg_set_colorspace(&c, JCS_CMYK);
    c.write_Adobe_marker = FALSE;
  } else {
    fprintf(stderr, "bad mode\n");
    return 2;
  }
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = buf + (size_t)c.next_scanline * w * 4;
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  free(buf);
  return 0;
}
