internal import Foundation

/// Per-step timing of `InferenceSession` runs: wall and process CPU seconds (all threads, so
/// OpenBLAS's workers count) by operator kind and by node, per session. Off unless the
/// environment sets `SKIFF_PROFILE=1` (or `isEnabled` is set); `skiff bench ppocr` prints the
/// report at the end. Costs two clock reads per step when on, one flag test when off.
public final class SessionProfiler: @unchecked Sendable {
    public static let shared = SessionProfiler()

    /// Read once from SKIFF_PROFILE; may be switched on in code before runs start.
    nonisolated(unsafe) public static var isEnabled: Bool = {
        guard let v = ProcessInfo.processInfo.environment["SKIFF_PROFILE"] else { return false }
        return !v.isEmpty && v != "0"
    }()

    struct Entry {
        var kind = ""
        var shapes = ""
        var calls = 0
        var wall = 0.0
        var cpu = 0.0
        var flops = 0.0
    }

    struct SessionStats {
        var runs = 0
        var wall = 0.0
        var cpu = 0.0
        var kinds: [String: Entry] = [:]
        var nodes: [String: Entry] = [:]
    }

    private let lock = NSLock()
    private var sessions: [String: SessionStats] = [:]
    private var order: [String] = []

    /// Wall time and CPU time: the process's, or with `thread` the calling thread's.
    static func now(thread: Bool = false) -> (wall: Double, cpu: Double) {
        var w = timespec(), c = timespec()
        clock_gettime(CLOCK_MONOTONIC, &w)
        clock_gettime(thread ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID, &c)
        return (Double(w.tv_sec) + Double(w.tv_nsec) * 1e-9, Double(c.tv_sec) + Double(c.tv_nsec) * 1e-9)
    }

    /// Multiply-add work of a step (2 per multiply-add) for convolutions and products, else 0.
    static func flops(_ step: Step, inputs: [Tensor?], outputs: [Tensor]) -> Double {
        switch step.kind {
        case let .conv(c):
            guard let y = outputs.first, let x = inputs.first ?? nil, x.shape.count == 4 else { return 0 }
            // Kernel == stride transposed: each output value takes one input pixel's channels.
            let perOutput = c.transposed ? Double(x.shape[1]) : Double(c.depth)
            return 2 * perOutput * Double(y.count)
        case .node where step.node.opType == "MatMul":
            guard let a = inputs.first ?? nil, let y = outputs.first, let k = a.shape.last else { return 0 }
            return 2 * Double(k) * Double(y.count)
        default:
            return 0
        }
    }

    /// One run's step timings: (kind, node, shapes, wall, cpu, flops) per step, plus the run's totals.
    func record(session: String, steps: [(kind: String, node: String, shapes: String, wall: Double, cpu: Double, flops: Double)],
                wall: Double, cpu: Double) {
        lock.lock()
        defer { lock.unlock() }
        if sessions[session] == nil { order.append(session) }
        var s = sessions[session] ?? SessionStats()
        s.runs += 1
        s.wall += wall
        s.cpu += cpu
        for step in steps {
            var k = s.kinds[step.kind] ?? Entry(kind: step.kind)
            k.calls += 1
            k.wall += step.wall
            k.cpu += step.cpu
            k.flops += step.flops
            s.kinds[step.kind] = k
            var n = s.nodes[step.node] ?? Entry(kind: step.kind)
            n.calls += 1
            n.wall += step.wall
            n.cpu += step.cpu
            n.flops += step.flops
            // The largest input seen stands for the node (pages and batches vary in size).
            if step.shapes.count >= n.shapes.count { n.shapes = step.shapes }
            s.nodes[step.node] = n
        }
        sessions[session] = s
    }

    public func reset() {
        lock.lock()
        sessions = [:]
        order = []
        lock.unlock()
    }

    /// Per session: totals, every operator kind by wall time, and the `topNodes` slowest nodes.
    public func report(topNodes: Int = 15) -> String {
        lock.lock()
        let snapshot = sessions, names = order
        lock.unlock()
        // Only numbers go through String(format:); names are interpolated (a Swift String passed
        // for %@ is not safe on every platform).
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        var out: [String] = []
        for name in names {
            guard let s = snapshot[name] else { continue }
            out.append("profile \(name): " + String(format: "%d runs, %.3f s wall, %.3f CPU s (steps: %.3f s wall)", s.runs, s.wall,
                                                        s.cpu, s.kinds.values.reduce(0) { $0 + $1.wall }))
            out.append("  by kind:                          calls    wall s   share    CPU s   GFLOP  GFLOP/CPU s")
            for e in s.kinds.values.sorted(by: { $0.wall > $1.wall }) {
                let rate = e.flops > 0 ? String(format: "%6.1f", e.flops / 1e9 / max(e.cpu, 1e-9)) : ""
                out.append("    " + pad(e.kind, 32) + String(format: " %6d  %8.3f  %5.1f%%  %7.3f  %6.1f  ", e.calls, e.wall,
                                                              100 * e.wall / max(s.wall, 1e-12), e.cpu, e.flops / 1e9) + rate)
            }
            out.append("  top nodes (largest input seen):")
            for (node, e) in s.nodes.sorted(by: { $0.value.wall > $1.value.wall }).prefix(topNodes) {
                out.append(String(format: "    %8.3f s  %5.1f%%  ", e.wall, 100 * e.wall / max(s.wall, 1e-12)) + "\(node)  [\(e.kind)]  \(e.shapes)")
            }
        }
        return out.joined(separator: "\n")
    }
}
