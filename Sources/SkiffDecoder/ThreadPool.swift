import CSkiffKernels

/// The kernels' thread pool (C, pthreads). One per session: a pool runs one job at a time.
final class ThreadPool {
    let handle: OpaquePointer?
    let threads: Int

    init(threads: Int) {
        handle = skiff_pool_create(Int32(max(1, threads)))
        self.threads = Int(skiff_pool_threads(handle))
    }

    deinit { skiff_pool_destroy(handle) }
}
