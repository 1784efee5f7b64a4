#include "skiff_tesseract.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool openmp_was_preloaded = false;

bool skiff_tess_openmp_preloaded(void) { return openmp_was_preloaded; }

bool skiff_tess_cancel_requested(void *cancel_this, int words) {
  (void)words;
  return cancel_this != NULL && __atomic_load_n((int *)cancel_this, __ATOMIC_RELAXED) != 0;
}

void skiff_tess_request_cancel(int *flag) { __atomic_store_n(flag, 1, __ATOMIC_RELAXED); }

#define RESOLVE(field, symbol)                                                        \
  do {                                                                                \
    *(void **)(&api->field) = dlsym(handle, symbol);                                  \
    if (!api->field) {                                                                \
      snprintf(message, message_capacity, "libtesseract has no symbol %s", symbol);   \
      return 2;                                                                       \
    }                                                                                 \
  } while (0)

int skiff_tess_load(const char *const *paths, size_t path_count, skiff_tess_api *api,
                    char *message, size_t message_capacity) {
  static const char *const defaults[] = {
#ifdef __APPLE__
      "libtesseract.5.dylib", "libtesseract.dylib", "/opt/homebrew/lib/libtesseract.dylib",
      "/usr/local/lib/libtesseract.dylib",
#else
      "libtesseract.so.5", "libtesseract.so",
#endif
  };
  if (!paths || path_count == 0) {
    paths = defaults;
    path_count = sizeof defaults / sizeof defaults[0];
  }
  // OpenMP inside Tesseract spins up a thread team per page; with pages already
  // processed in parallel that oversubscribes the CPU (5x slower measured).
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
  memset(api, 0, sizeof *api);
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
  RESOLVE(page_iterator_is_at_final_element, "TessPageIteratorIsAtFinalElement");
  RESOLVE(monitor_create, "TessMonitorCreate");
  RESOLVE(monitor_delete, "TessMonitorDelete");
  RESOLVE(monitor_set_cancel_func, "TessMonitorSetCancelFunc");
  RESOLVE(monitor_set_cancel_this, "TessMonitorSetCancelThis");
  RESOLVE(monitor_set_deadline_msecs, "TessMonitorSetDeadlineMSecs");
  return 0;
}
