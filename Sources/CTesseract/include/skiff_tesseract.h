// Runtime binding to libtesseract's C API.
//
// libtesseract links libgomp, and OpenMP reads OMP_THREAD_LIMIT once, when it
// is loaded. Linking libtesseract into the executable would load it before any
// Swift code can set that variable, so Skiff loads it with dlopen instead:
// skiff_tess_load() sets OMP_THREAD_LIMIT=1 (unless the user chose a value)
// and then resolves the functions below.
#ifndef SKIFF_TESSERACT_H
#define SKIFF_TESSERACT_H

#include <stdbool.h>
#include <stddef.h>
#include <tesseract/capi.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const char *(*version)(void);
  TessBaseAPI *(*create)(void);
  void (*destroy)(TessBaseAPI *);
  // TessBaseAPIInit4: init-only variables (e.g. load_system_dawg) go in vars.
  int (*init)(TessBaseAPI *, const char *datapath, const char *language, TessOcrEngineMode,
              char **configs, int configs_size, char **vars, char **values, size_t var_count,
              BOOL set_only_non_debug_params);
  BOOL (*set_variable)(TessBaseAPI *, const char *name, const char *value);
  void (*set_page_seg_mode)(TessBaseAPI *, TessPageSegMode);
  void (*set_image)(TessBaseAPI *, const unsigned char *data, int width, int height,
                    int bytes_per_pixel, int bytes_per_line);
  void (*set_source_resolution)(TessBaseAPI *, int ppi);
  int (*recognize)(TessBaseAPI *, ETEXT_DESC *);
  char *(*get_utf8_text)(TessBaseAPI *);
  void (*delete_text)(const char *);
  void (*clear)(TessBaseAPI *);
  void (*end)(TessBaseAPI *);
  TessResultIterator *(*get_iterator)(TessBaseAPI *);
  void (*result_iterator_delete)(TessResultIterator *);
  TessPageIterator *(*result_iterator_page)(TessResultIterator *);
  BOOL (*result_iterator_next)(TessResultIterator *, TessPageIteratorLevel);
  char *(*result_iterator_text)(const TessResultIterator *, TessPageIteratorLevel);
  float (*result_iterator_confidence)(const TessResultIterator *, TessPageIteratorLevel);
  BOOL (*page_iterator_bounding_box)(const TessPageIterator *, TessPageIteratorLevel, int *left,
                                     int *top, int *right, int *bottom);
  BOOL (*page_iterator_is_at_beginning_of)(const TessPageIterator *, TessPageIteratorLevel);
  BOOL (*page_iterator_is_at_final_element)(const TessPageIterator *, TessPageIteratorLevel,
                                            TessPageIteratorLevel);
  ETEXT_DESC *(*monitor_create)(void);
  void (*monitor_delete)(ETEXT_DESC *);
  void (*monitor_set_cancel_func)(ETEXT_DESC *, TessCancelFunc);
  void (*monitor_set_cancel_this)(ETEXT_DESC *, void *);
  void (*monitor_set_deadline_msecs)(ETEXT_DESC *, int);
} skiff_tess_api;

/// Loads libtesseract (the first of the given paths that opens, or the system
/// default names when paths is NULL) and fills *api. Returns 0 on success;
/// otherwise writes a message naming the library or the missing symbol.
int skiff_tess_load(const char *const *paths, size_t path_count, skiff_tess_api *api,
                    char *message, size_t message_capacity);

/// A cancel callback for ETEXT_DESC: cancel_this points at an int flag that
/// another thread sets to request cancellation.
bool skiff_tess_cancel_requested(void *cancel_this, int words);

/// Whether OpenMP was already loaded into the process before Skiff could set
/// OMP_THREAD_LIMIT (then Tesseract may oversubscribe the CPU).
bool skiff_tess_openmp_preloaded(void);

/// Sets the flag read by skiff_tess_cancel_requested (atomically).
void skiff_tess_request_cancel(int *flag);

#ifdef __cplusplus
}
#endif

#endif
