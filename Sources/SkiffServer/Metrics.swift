import Foundation

/// Counters, gauges and latency histograms, written in Prometheus' text format for `GET /metrics`.
public final class ServiceMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [String: Int] = [:]           // route|status
    private var failures: [String: Int] = [:]           // route|reason
    private var pages = 0
    private var rejected = 0
    private var histograms: [String: Histogram] = [:]   // route
    private let started = Date()

    /// Upper bounds of the latency buckets, in seconds.
    static let buckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    struct Histogram {
        var counts = [Int](repeating: 0, count: ServiceMetrics.buckets.count)
        var sum = 0.0
        var count = 0
    }

    public init() {}

    public func record(route: String, status: Int, seconds: Double) {
        lock.withLock {
            requests["\(route)|\(status)", default: 0] += 1
            var h = histograms[route] ?? Histogram()
            for (index, bound) in Self.buckets.enumerated() where seconds <= bound { h.counts[index] += 1 }
            h.sum += seconds
            h.count += 1
            histograms[route] = h
            if status == 503 { rejected += 1 }
        }
    }

    public func failed(route: String, reason: String) {
        lock.withLock { failures["\(route)|\(reason)", default: 0] += 1 }
    }

    public func pagesProcessed(_ count: Int) {
        lock.withLock { pages += count }
    }

    /// The exposition text; `busy` and `waiting` are the worker pool's gauges now.
    public func text(workers: Int, busy: Int, waiting: Int) -> String {
        lock.withLock {
            var out = ""
            func family(_ name: String, _ type: String, _ help: String) {
                out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            }
            // Counters keyed "route|second label".
            func byRoute(_ name: String, _ label: String, _ counts: [String: Int]) {
                for (key, value) in counts.sorted(by: { $0.key < $1.key }) {
                    let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
                    out += "\(name){route=\"\(escape(parts[0]))\",\(label)=\"\(escape(parts[1]))\"} \(value)\n"
                }
            }
            family("skiff_requests_total", "counter", "HTTP requests answered, by route and status.")
            byRoute("skiff_requests_total", "status", requests)
            family("skiff_request_duration_seconds", "histogram", "Time from request to response, by route.")
            for (route, h) in histograms.sorted(by: { $0.key < $1.key }) {
                for (index, bound) in Self.buckets.enumerated() {
                    out += "skiff_request_duration_seconds_bucket{route=\"\(escape(route))\",le=\"\(bound)\"} \(h.counts[index])\n"
                }
                out += "skiff_request_duration_seconds_bucket{route=\"\(escape(route))\",le=\"+Inf\"} \(h.count)\n"
                out += "skiff_request_duration_seconds_sum{route=\"\(escape(route))\"} \(h.sum)\n"
                out += "skiff_request_duration_seconds_count{route=\"\(escape(route))\"} \(h.count)\n"
            }
            family("skiff_failures_total", "counter", "Requests that could not be processed, by route and reason.")
            byRoute("skiff_failures_total", "reason", failures)
            family("skiff_pages_total", "counter", "Pages read (OCR or extraction).")
            out += "skiff_pages_total \(pages)\n"
            family("skiff_rejected_total", "counter", "Requests turned away with 503 because every worker was busy and the queue full.")
            out += "skiff_rejected_total \(rejected)\n"
            family("skiff_workers", "gauge", "Workers (pipelines) in the pool.")
            out += "skiff_workers \(workers)\n"
            family("skiff_workers_busy", "gauge", "Workers processing a request now.")
            out += "skiff_workers_busy \(busy)\n"
            family("skiff_queue_depth", "gauge", "Requests waiting for a worker now.")
            out += "skiff_queue_depth \(waiting)\n"
            family("skiff_uptime_seconds", "gauge", "Seconds since the service started.")
            out += "skiff_uptime_seconds \(Date().timeIntervalSince(started))\n"
            return out
        }
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
