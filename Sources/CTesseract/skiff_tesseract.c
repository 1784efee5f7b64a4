#include "skiff_tesseract.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  const char * (*version)(void);
  TessBaseAPI * (*create)(void);
  void (*destroy)(TessBaseAPI *handle);
  int (*init)(TessBaseAPI *handle, const char *datapath, const char *language, TessOcrEngineMode mode, char **configs, int configs_size, char **vars, char **values, size_t var_count, BOOL set_only_non_debug_params);
  BOOL (*set_variable)(TessBaseAPI *handle, const char *name, const char *value);
  void (*set_page_seg_mode)(TessBaseAPI *handle, TessPageSegMode mode);
  void (*set_image)(TessBaseAPI *handle, const unsigned char *data, int width, int height, int bytes_per_pixel, int bytes_per_line);
  void (*set_source_resolution)(TessBaseAPI *handle, int ppi);
  int (*recognize)(TessBaseAPI *handle, ETEXT_DESC *monitor);
  char * (*get_utf8_text)(TessBaseAPI *handle);
  void (*delete_text)(const char *text);
  void (*clear)(TessBaseAPI *handle);
  void (*end)(TessBaseAPI *handle);
  TessResultIterator * (*get_iterator)(TessBaseAPI *handle);
  void (*result_iterator_delete)(TessResultIterator *it);
  TessPageIterator * (*result_iterator_page)(TessResultIterator *it);
  BOOL (*result_iterator_next)(TessResultIterator *it, TessPageIteratorLevel level);
  char * (*result_iterator_text)(const TessResultIterator *it, TessPageIteratorLevel level);
  float (*result_iterator_confidence)(const TessResultIterator *it, TessPageIteratorLevel level);
  BOOL (*page_iterator_bounding_box)(const TessPageIterator *it, TessPageIteratorLevel level, int *left, int *top, int *right, int *bottom);
  BOOL (*page_iterator_is_at_beginning_of)(const TessPageIterator *it, TessPageIteratorLevel level);
  ETEXT_DESC * (*monitor_create)(void);
  void (*monitor_delete)(ETEXT_DESC *monitor);
  void (*monitor_set_cancel_func)(ETEXT_DESC *monitor, TessCancelFunc func);
  void (*monitor_set_cancel_this)(ETEXT_DESC *monitor, void *cancel_this);
  void (*monitor_set_deadline_msecs)(ETEXT_DESC *monitor, int deadline);
} tess_table;

static tess_table table;
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded = 0;
static bool openmp_was_preloaded = false;

bool skiff_tess_openmp_preloaded(void) { return openmp_was_preloaded; }

double skiff_tess_monotonic_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static bool cancel_callback(void *cancel_this, int words) {
  (void)words;
  skiff_tess_cancel_state *state = (skiff_tess_cancel_state *)cancel_this;
  if (!state) return false;
  if (__atomic_load_n(&state->cancel_requested, __ATOMIC_RELAXED)) return true;
  if (state->deadline > 0 && skiff_tess_monotonic_seconds() > state->deadline) {
    state->deadline_passed = 1;
    return true;
  }
  return false;
}

void skiff_tess_monitor_attach(ETEXT_DESC *monitor, skiff_tess_cancel_state *state) {
  table.monitor_set_cancel_func(monitor, cancel_callback);
  table.monitor_set_cancel_this(monitor, state);
}

void skiff_tess_request_cancel(skiff_tess_cancel_state *state) {
  __atomic_store_n(&state->cancel_requested, 1, __ATOMIC_RELAXED);
}

#define RESOLVE(field, symbol)                                                          \
  do {                                                                                  \
    *(void **)(&table.field) = dlsym(handle, symbol);                                   \
    if (!table.field) {                                                                 \
      snprintf(message, message_capacity, "libtesseract has no symbol %s", symbol);     \
      return 2;                                                                         \
    }                                                                                   \
  } while (0)

static int load_locked(const char *const *paths, size_t path_count, char *message, size_t message_capacity) {
  static const char *const defaults[] = {
#ifdef __APPLE__
      "libtesseract.5.dylib", "libtesseract.dylib", "/opt/homebrew/lib/libtesseract.dylib",
      "/usr/local/lib/libtesseract.dylib",
#else
      "libtesseract.so.5", "libtesseract.so",
#endif
  };
  const char *override_path[1];
  const char *override = getenv("SKIFF_TESSERACT_LIBRARY");
  if ((!paths || path_count == 0) && override && *override) {
    override_path[0] = override;
    paths = override_path;
    path_count = 1;
  }
  if (!paths || path_count == 0) {
    paths = defaults;
    path_count = sizeof defaults / sizeof defaults[0];
  }
  // OpenMP inside Tesseract starts a thread team per page; with pages already
  // processed in parallel that oversubscribes the CPU.
#ifndef __APPLE__
  void *gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (gomp) {
    openmp_was_preloaded = true;
    dlclose(gomp);
  }
#endif
  setenv("OMP_THREAD_LIMIT", "1", 0);

  void *handle = NULL;
  const char *last_error = "no candidate paths";
  for (size_t i = 0; i < path_count && !handle; i++) {
    handle = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) last_error = dlerror();
  }
  if (!handle) {
    snprintf(message, message_capacity, "cannot load libtesseract (%s)", last_error ? last_error : "unknown error");
    return 1;
  }
  RESOLVE(version, "TessVersion");
  RESOLVE(create, "TessBaseAPICreate");
  RESOLVE(destroy, "TessBaseAPIDelete");
  RESOLVE(init, "TessBaseAPIInit4");
  RESOLVE(set_variable, "TessBaseAPISetVariable");
  RESOLVE(set_page_seg_mode, "TessBaseAPISetPageSegMode");
  RESOLVE(set_image, "TessBaseAPISetImage");
  RESOLVE(set_source_resolution, "TessBaseAPISetSourceResolution");
  RESOLVE(recognize, "TessBaseAPIRecognize");
  RESOLVE(get_utf8_text, "TessBaseAPIGetUTF8Text");
  RESOLVE(delete_text, "TessDeleteText");
  RESOLVE(clear, "TessBaseAPIClear");
  RESOLVE(end, "TessBaseAPIEnd");
  RESOLVE(get_iterator, "TessBaseAPIGetIterator");
  RESOLVE(result_iterator_delete, "TessResultIteratorDelete");
  RESOLVE(result_iterator_page, "TessResultIteratorGetPageIterator");
  RESOLVE(result_iterator_next, "TessResultIteratorNext");
  RESOLVE(result_iterator_text, "TessResultIteratorGetUTF8Text");
  RESOLVE(result_iterator_confidence, "TessResultIteratorConfidence");
  RESOLVE(page_iterator_bounding_box, "TessPageIteratorBoundingBox");
  RESOLVE(page_iterator_is_at_beginning_of, "TessPageIteratorIsAtBeginningOf");
  RESOLVE(monitor_create, "TessMonitorCreate");
  RESOLVE(monitor_delete, "TessMonitorDelete");
  RESOLVE(monitor_set_cancel_func, "TessMonitorSetCancelFunc");
  RESOLVE(monitor_set_cancel_this, "TessMonitorSetCancelThis");
  RESOLVE(monitor_set_deadline_msecs, "TessMonitorSetDeadlineMSecs");
  // Leptonica prints its own diagnostics ("Error in boxClipToRectangle") to
  // stderr for conditions Tesseract recovers from; silence them unless asked.
  if (!getenv("SKIFF_LEPTONICA_MESSAGES")) {
    void *set_severity = dlsym(handle, "setMsgSeverity");
    if (set_severity) ((int (*)(int))set_severity)(6 /* L_SEVERITY_NONE */);
  }
  return 0;
}

int skiff_tess_load(const char *const *paths, size_t path_count, char *message, size_t message_capacity) {
  pthread_mutex_lock(&load_lock);
  int result = 0;
  if (!loaded) {
    result = load_locked(paths, path_count, message, message_capacity);
    if (result == 0) loaded = 1;
  }
  pthread_mutex_unlock(&load_lock);
  return result;
}

const char * skiff_tess_version(void) { return table.version(); }
TessBaseAPI * skiff_tess_create(void) { return table.create(); }
void skiff_tess_destroy(TessBaseAPI *handle) { table.destroy(handle); }
int skiff_tess_init(TessBaseAPI *handle, const char *datapath, const char *language, TessOcrEngineMode mode, char **configs, int configs_size, char **vars, char **values, size_t var_count, BOOL set_only_non_debug_params) { return table.init(handle, datapath, language, mode, configs, configs_size, vars, values, var_count, set_only_non_debug_params); }
BOOL skiff_tess_set_variable(TessBaseAPI *handle, const char *name, const char *value) { return table.set_variable(handle, name, value); }
void skiff_tess_set_page_seg_mode(TessBaseAPI *handle, TessPageSegMode mode) { table.set_page_seg_mode(handle, mode); }
void skiff_tess_set_image(TessBaseAPI *handle, const unsigned char *data, int width, int height, int bytes_per_pixel, int bytes_per_line) { table.set_image(handle, data, width, height, bytes_per_pixel, bytes_per_line); }
void skiff_tess_set_source_resolution(TessBaseAPI *handle, int ppi) { table.set_source_resolution(handle, ppi); }
int skiff_tess_recognize(TessBaseAPI *handle, ETEXT_DESC *monitor) { return table.recognize(handle, monitor); }
char * skiff_tess_get_utf8_text(TessBaseAPI *handle) { return table.get_utf8_text(handle); }
void skiff_tess_delete_text(const char *text) { table.delete_text(text); }
void skiff_tess_clear(TessBaseAPI *handle) { table.clear(handle); }
void skiff_tess_end(TessBaseAPI *handle) { table.end(handle); }
TessResultIterator * skiff_tess_get_iterator(TessBaseAPI *handle) { return table.get_iterator(handle); }
void skiff_tess_result_iterator_delete(TessResultIterator *it) { table.result_iterator_delete(it); }
TessPageIterator * skiff_tess_result_iterator_page(TessResultIterator *it) { return table.result_iterator_page(it); }
BOOL skiff_tess_result_iterator_next(TessResultIterator *it, TessPageIteratorLevel level) { return table.result_iterator_next(it, level); }
char * skiff_tess_result_iterator_text(const TessResultIterator *it, TessPageIteratorLevel level) { return table.result_iterator_text(it, level); }
float skiff_tess_result_iterator_confidence(const TessResultIterator *it, TessPageIteratorLevel level) { return table.result_iterator_confidence(it, level); }
BOOL skiff_tess_page_iterator_bounding_box(const TessPageIterator *it, TessPageIteratorLevel level, int *left, int *top, int *right, int *bottom) { return table.page_iterator_bounding_box(it, level, left, top, right, bottom); }
BOOL skiff_tess_page_iterator_is_at_beginning_of(const TessPageIterator *it, TessPageIteratorLevel level) { return table.page_iterator_is_at_beginning_of(it, level); }
ETEXT_DESC * skiff_tess_monitor_create(void) { return table.monitor_create(); }
void skiff_tess_monitor_delete(ETEXT_DESC *monitor) { table.monitor_delete(monitor); }
void skiff_tess_monitor_set_cancel_func(ETEXT_DESC *monitor, TessCancelFunc func) { table.monitor_set_cancel_func(monitor, func); }
void skiff_tess_monitor_set_cancel_this(ETEXT_DESC *monitor, void *cancel_this) { table.monitor_set_cancel_this(monitor, cancel_this); }
void skiff_tess_monitor_set_deadline_msecs(ETEXT_DESC *monitor, int deadline) { table.monitor_set_deadline_msecs(monitor, deadline); }
