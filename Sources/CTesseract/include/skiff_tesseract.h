// Runtime binding to libtesseract's C API.
//
// libtesseract links libgomp, and OpenMP reads OMP_THREAD_LIMIT once, when it
// is loaded. Linking libtesseract into the executable would load it before any
// Swift code can set that variable, so Skiff loads it with dlopen instead:
// skiff_tess_load() sets OMP_THREAD_LIMIT=1 (unless the user chose a value),
// opens the library and resolves the functions below. Each skiff_tess_* call
// forwards to the libtesseract function named in its comment; call them only
// after skiff_tess_load() returned 0.
#ifndef SKIFF_TESSERACT_H
#define SKIFF_TESSERACT_H

#include <stdbool.h>
#include <stddef.h>
#include <tesseract/capi.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Loads libtesseract (the first of `paths` that opens; when paths is NULL,
/// $SKIFF_TESSERACT_LIBRARY if set, else the system's default names). Returns 0 on success; otherwise writes
/// a message naming the library or the missing symbol. Thread-safe; loads once.
int skiff_tess_load(const char *const *paths, size_t path_count, char *message, size_t message_capacity);

/// Whether OpenMP was already in the process before Skiff could set
/// OMP_THREAD_LIMIT (then Tesseract may oversubscribe the CPU).
bool skiff_tess_openmp_preloaded(void);

/// Cancellation and deadline state read by Tesseract's cancel callback.
typedef struct {
  int cancel_requested;   // set by another thread (atomically) to stop recognition
  int deadline_passed;    // set by the callback when the deadline is reached
  double deadline;        // CLOCK_MONOTONIC seconds; 0 means none
} skiff_tess_cancel_state;

/// Installs the cancel callback with `state` on `monitor`.
void skiff_tess_monitor_attach(ETEXT_DESC *monitor, skiff_tess_cancel_state *state);
void skiff_tess_request_cancel(skiff_tess_cancel_state *state);
double skiff_tess_monotonic_seconds(void);

/// TessVersion
const char * skiff_tess_version(void);
/// TessBaseAPICreate
TessBaseAPI * skiff_tess_create(void);
/// TessBaseAPIDelete
void skiff_tess_destroy(TessBaseAPI *handle);
/// TessBaseAPIInit4
int skiff_tess_init(TessBaseAPI *handle, const char *datapath, const char *language, TessOcrEngineMode mode, char **configs, int configs_size, char **vars, char **values, size_t var_count, BOOL set_only_non_debug_params);
/// TessBaseAPISetVariable
BOOL skiff_tess_set_variable(TessBaseAPI *handle, const char *name, const char *value);
/// TessBaseAPISetPageSegMode
void skiff_tess_set_page_seg_mode(TessBaseAPI *handle, TessPageSegMode mode);
/// TessBaseAPISetImage
void skiff_tess_set_image(TessBaseAPI *handle, const unsigned char *data, int width, int height, int bytes_per_pixel, int bytes_per_line);
/// TessBaseAPISetSourceResolution
void skiff_tess_set_source_resolution(TessBaseAPI *handle, int ppi);
/// TessBaseAPIRecognize
int skiff_tess_recognize(TessBaseAPI *handle, ETEXT_DESC *monitor);
/// TessBaseAPIGetUTF8Text
char * skiff_tess_get_utf8_text(TessBaseAPI *handle);
/// TessDeleteText
void skiff_tess_delete_text(const char *text);
/// TessBaseAPIClear
void skiff_tess_clear(TessBaseAPI *handle);
/// TessBaseAPIEnd
void skiff_tess_end(TessBaseAPI *handle);
/// TessBaseAPIGetIterator
TessResultIterator * skiff_tess_get_iterator(TessBaseAPI *handle);
/// TessResultIteratorDelete
void skiff_tess_result_iterator_delete(TessResultIterator *it);
/// TessResultIteratorGetPageIterator
TessPageIterator * skiff_tess_result_iterator_page(TessResultIterator *it);
/// TessResultIteratorNext
BOOL skiff_tess_result_iterator_next(TessResultIterator *it, TessPageIteratorLevel level);
/// TessResultIteratorGetUTF8Text
char * skiff_tess_result_iterator_text(const TessResultIterator *it, TessPageIteratorLevel level);
/// TessResultIteratorConfidence
float skiff_tess_result_iterator_confidence(const TessResultIterator *it, TessPageIteratorLevel level);
/// TessPageIteratorBoundingBox
BOOL skiff_tess_page_iterator_bounding_box(const TessPageIterator *it, TessPageIteratorLevel level, int *left, int *top, int *right, int *bottom);
/// TessPageIteratorIsAtBeginningOf
BOOL skiff_tess_page_iterator_is_at_beginning_of(const TessPageIterator *it, TessPageIteratorLevel level);
/// TessMonitorCreate
ETEXT_DESC * skiff_tess_monitor_create(void);
/// TessMonitorDelete
void skiff_tess_monitor_delete(ETEXT_DESC *monitor);
/// TessMonitorSetCancelFunc
void skiff_tess_monitor_set_cancel_func(ETEXT_DESC *monitor, TessCancelFunc func);
/// TessMonitorSetCancelThis
void skiff_tess_monitor_set_cancel_this(ETEXT_DESC *monitor, void *cancel_this);
/// TessMonitorSetDeadlineMSecs
void skiff_tess_monitor_set_deadline_msecs(ETEXT_DESC *monitor, int deadline);

#ifdef __cplusplus
}
#endif

#endif
