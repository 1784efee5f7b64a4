#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tells when the current thread's stack is nearly used up, so that deep recursion (nested
/// JSON, recursive schemas) stops with an error instead of crashing. Threads differ a lot
/// (8 MiB for a main thread, 512 KiB for Swift concurrency's), so a fixed depth limit alone
/// cannot be safe. Only consulted past a modest depth, because reading the bounds is not free.
public struct StackGuard: Sendable {
    private let floor: UInt

    /// `reserve`: bytes to keep free for unwinding and error reporting.
    public init(reserve: Int = 160 * 1024) {
        var low: UInt = 0
        #if os(Linux)
        // pthread_getattr_np is a GNU extension that Glibc's Swift module does not export.
        typealias GetAttr = @convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32
        var attr = pthread_attr_t()
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_getattr_np"),
            unsafeBitCast(symbol, to: GetAttr.self)(pthread_self(), &attr) == 0
        {
            var addr: UnsafeMutableRawPointer? = nil
            var size = 0
            if pthread_attr_getstack(&attr, &addr, &size) == 0, let addr { low = UInt(bitPattern: addr) }
            pthread_attr_destroy(&attr)
        }
        #elseif canImport(Darwin)
        let top = UInt(bitPattern: pthread_get_stackaddr_np(pthread_self()))
        low = top - UInt(pthread_get_stacksize_np(pthread_self()))
        #endif
        floor = low == 0 ? 0 : low + UInt(reserve)
    }

    /// True when less than the reserve is left below the caller's frame.
    @inline(never) public func isExhausted() -> Bool {
        var marker: UInt8 = 0
        let here = withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
        return here < floor
    }
}
