public import SkiffImage
public import SkiffONNX
internal import Foundation

/// One recognised character and where the network saw it: frames are the CTC time steps of
/// the network input (8 pixels of the 48-pixel-high line each).
public struct CharacterTiming: Sendable, Hashable {
    public var character: String
    /// First and last frame of the character's run (inclusive), in input frames.
    public var firstFrame: Int
    public var lastFrame: Int
    public var probability: Double
}

/// The recognition of one line crop.
public struct LineReading: Sendable, Hashable {
    public var text: String
    /// Mean probability of the kept characters (rapidocr's score).
    public var confidence: Double
    public var characters: [CharacterTiming]
    /// Crop pixels per frame: frame f starts at crop x = f * cropPixelsPerFrame.
    public var cropPixelsPerFrame: Double
    /// Network-input pixels per frame (the line is 48 of them high).
    public var inputPixelsPerFrame: Double = 8
    /// Runs of ink-free columns of the 48-high line image (network-input pixels), where the
    /// line has enough contrast to tell ink from paper. CTC frames are 8 pixels wide, too coarse
    /// to see a word space in tight print; the columns show it.
    public var blankColumns: [ClosedRange<Int>] = []
}

/// Ink-free column runs of a line image: a pixel is ink when it is darker than the midpoint of
/// the line's 5th and 95th grey percentiles (lighter, for light-on-dark lines).
func blankColumnRuns(_ line: PixelBuffer) -> [ClosedRange<Int>] {
    let w = line.width, h = line.height
    guard w > 0, h > 0 else { return [] }
    var gray = [UInt8](repeating: 0, count: w * h)
    line.pixels.withUnsafeBufferPointer { p in
        for i in 0..<(w * h) { gray[i] = UInt8((Int(p[3 * i]) + Int(p[3 * i + 1]) + Int(p[3 * i + 2])) / 3) }
    }
    var histogram = [Int](repeating: 0, count: 256)
    for g in gray { histogram[Int(g)] += 1 }
    func percentile(_ q: Double) -> Int {
        let target = Int(Double(w * h) * q)
        var acc = 0
        for v in 0..<256 { acc += histogram[v]; if acc > target { return v } }
        return 255
    }
    let lo = percentile(0.05), hi = percentile(0.95), median = percentile(0.5)
    guard hi - lo >= 40 else { return [] }
    let mid = (lo + hi) / 2
    let darkText = median >= mid
    var runs: [ClosedRange<Int>] = []
    var start: Int?
    for x in 0..<w {
        var ink = 0
        for y in (h / 8)..<(h - h / 8) {
            let g = Int(gray[y * w + x])
            if darkText ? g < mid : g > mid { ink += 1 }
        }
        if ink == 0 {
            if start == nil { start = x }
        } else if let s = start {
            runs.append(s...(x - 1))
            start = nil
        }
    }
    if let s = start { runs.append(s...(w - 1)) }
    return runs
}

/// The PP-OCRv5 recognition network with CTC greedy decoding.
public struct TextRecognizer: Sendable {
    public let session: InferenceSession
    /// keys[i] is class i ("blank" at 0).
    public let keys: [String]
    /// Lines per network run; rapidocr uses 6. Lines are sorted by aspect ratio first and padded
    /// to the widest of their batch.
    public var batchSize: Int
    /// Lines narrower than this (at height 48) are padded to it; rapidocr uses 320. Padding
    /// short lines costs frames through the whole network (and the padded frames take part in
    /// the attention, so results move slightly with it).
    public var minimumWidth: Int

    /// The network's final product (features → class logits) when `load` split it off: decoding
    /// then takes each frame's best class without the frames x 18,385 logits tensor.
    public let head: LinearHead?

    public static let height = 48

    public init(session: InferenceSession, keysPath: String, batchSize: Int = 6, minimumWidth: Int = 320,
                head: LinearHead? = nil) throws(PPOCRError) {
        self.session = session
        self.head = head
        self.batchSize = max(1, batchSize)
        self.minimumWidth = max(8, minimumWidth)
        guard let data = FileManager.default.contents(atPath: keysPath) else {
            throw .modelNotFound(file: keysPath, searched: [keysPath])
        }
        var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        keys = lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    }

    /// The network's class scores for lines already scaled to height 48 and of one width
    /// (`input` is [n, 3, 48, width]): [n, frames, classes]. The session ends before the final
    /// Softmax when it was loaded with `TextRecognizer.session(path:options:)`: decoding needs only
    /// each frame's best class and its probability, which `decode` takes from the logits.
    public func logits(_ input: Tensor) throws(PPOCRError) -> Tensor {
        var out: Tensor
        do {
            out = try session.run(input)
            if let head { out = try head.logits(out, threads: session.options.threads) }
        } catch { throw .runtime(error) }
        guard out.shape.count == 3 else { throw .runtime(.badInput("recognition output has shape \(out.shape)")) }
        guard out.shape[2] == keys.count else {
            throw .keysMismatch(path: "keys file", keys: keys.count, classes: out.shape[2])
        }
        return out
    }

    /// Recognises line crops (any size; each is scaled to height 48).
    public func recognize(_ crops: [PixelBuffer]) throws(PPOCRError) -> [LineReading] {
        let ratios = crops.map { Double($0.width) / Double(max($0.height, 1)) }
        let order = ratios.indices.sorted { ratios[$0] != ratios[$1] ? ratios[$0] < ratios[$1] : $0 < $1 }
        var results = [LineReading?](repeating: nil, count: crops.count)
        var start = 0
        while start < order.count {
            let batch = Array(order[start..<min(start + batchSize, order.count)])
            start += batchSize
            let maxRatio = max(Double(minimumWidth) / 48.0, batch.map { ratios[$0] }.max() ?? 0)
            let width = max(8, Int(Double(Self.height) * maxRatio))
            let h = Self.height
            var data = [Float](repeating: 0, count: batch.count * 3 * h * width)
            var contentWidths: [Int] = []
            var blanks: [[ClosedRange<Int>]] = []
            data.withUnsafeMutableBufferPointer { p in
                for (k, index) in batch.enumerated() {
                    let crop = crops[index]
                    let wanted = Int((Double(h) * ratios[index]).rounded(.up))
                    let resizedWidth = max(1, min(wanted, width))
                    contentWidths.append(resizedWidth)
                    let line = ImageOps.resize(crop, width: resizedWidth, height: h)
                    blanks.append(blankColumnRuns(line))
                    ImageOps.normalize(line, into: p.baseAddress! + k * 3 * h * width, stride: width, scaling: .recognition)
                }
            }
            let (best, frames) = try bestClasses(Tensor(shape: [batch.count, 3, h, width], floats: data))
            for (k, index) in batch.enumerated() {
                let pixelsPerFrame = Double(width) / Double(frames) * Double(crops[index].width) / Double(contentWidths[k])
                var reading = collapse(best.classes[(k * frames)..<((k + 1) * frames)],
                                       best.probabilities[(k * frames)..<((k + 1) * frames)],
                                       cropPixelsPerFrame: pixelsPerFrame)
                reading.inputPixelsPerFrame = Double(width) / Double(frames)
                reading.blankColumns = blanks[k]
                results[index] = reading
            }
        }
        return results.map { $0 ?? LineReading(text: "", confidence: 0, characters: [], cropPixelsPerFrame: 1) }
    }

    /// Each frame's best class and its probability for lines of one width ([n, 3, 48, width]),
    /// frame-major per line, and the number of frames per line.
    func bestClasses(_ input: Tensor) throws(PPOCRError) -> (best: (classes: [Int32], probabilities: [Float]), frames: Int) {
        let threads = session.options.threads
        do {
            let out = try runLines(input, threads: threads)
            guard out.shape.count == 3, out.shape[0] == input.shape[0] else {
                throw PPOCRError.runtime(.badInput("recognition output has shape \(out.shape)"))
            }
            if let head {
                guard head.classes == keys.count else {
                    throw PPOCRError.keysMismatch(path: "keys file", keys: keys.count, classes: head.classes)
                }
                return (try head.best(out, threads: threads), out.shape[1])
            }
            guard out.shape[2] == keys.count else {
                throw PPOCRError.keysMismatch(path: "keys file", keys: keys.count, classes: out.shape[2])
            }
            let values = out.floats
            let best = values.withUnsafeBufferPointer {
                LinearHead.best(logits: $0.baseAddress!, rows: out.shape[0] * out.shape[1], classes: out.shape[2], threads: threads)
            }
            return (best, out.shape[1])
        } catch let error as PPOCRError {
            throw error
        } catch let error as ONNXError {
            throw .runtime(error)
        } catch {
            throw .runtime(.badInput(String(describing: error)))
        }
    }

    /// Whether a batch's lines run side by side, one thread each (`SKIFF_LINE_PARALLEL=0`: the
    /// whole batch through each step on all threads, for comparison).
    static let lineParallel = ProcessInfo.processInfo.environment["SKIFF_LINE_PARALLEL"] != "0"

    /// The session's output for a batch [n, 3, 48, width]. With several threads and lines, the
    /// lines run side by side, each through the whole network on one thread: a line's
    /// activations (a few MB) stay in its core's caches where a batch's (6x as large) do not,
    /// and no step waits for the other thread (10 receipts, bfloat16: recognition CPU time
    /// -14 %, README). No step mixes the lines of a batch, so a line's values are the batch
    /// run's where that run gives each thread whole lines (an even batch on two threads); an
    /// odd batch's run splits a line's columns between the threads, and OpenBLAS rounds the
    /// two smaller products differently. Run alone, a line's values depend on nothing else.
    func runLines(_ input: Tensor, threads: Int) throws(ONNXError) -> Tensor {
        let n = input.shape.first ?? 0
        guard Self.lineParallel, threads > 1, n > 1, input.shape.count == 4 else { return try session.run(input) }
        let perLine = input.count / n
        let values = input.floats
        let lines = (0..<n).map { k in
            Tensor(shape: [1] + input.shape.dropFirst(), floats: Array(values[(k * perLine)..<((k + 1) * perLine)]))
        }
        let results = LineResults(count: n)
        let session = self.session
        let workers = min(threads, n)
        DispatchQueue.concurrentPerform(iterations: workers) { t in
            for k in stride(from: t, to: n, by: workers) {
                do throws(ONNXError) {
                    results.set(k, .success(try session.run(lines[k], threads: 1)))
                } catch {
                    results.set(k, .failure(error))
                }
            }
        }
        var outputs: [Tensor] = []
        for result in results.take() {
            switch result {
            case let .success(t)?: outputs.append(t)
            case let .failure(error)?: throw error
            case nil: throw .badInput("a recognition line produced no output")
            }
        }
        guard let first = outputs.first, outputs.allSatisfy({ $0.shape == first.shape && $0.isFloat }) else {
            throw .badInput("recognition lines gave outputs of different shapes")
        }
        var joined: [Float] = []
        joined.reserveCapacity(first.count * n)
        for t in outputs { joined += t.floats }
        return Tensor(shape: [n] + first.shape.dropFirst(), floats: joined)
    }

    /// Loads the recognition network without its final Softmax and with its last product split
    /// off as `head` (pass both to `init`), so decoding never builds the logits tensor. With
    /// bfloat16 products the head's run in bfloat16 too (its choice of class stays fp32's).
    public static func load(path: String, options: SessionOptions) throws(ONNXError) -> (session: InferenceSession, head: LinearHead?) {
        var model = try withoutSoftmax(path)
        var head = LinearHead.split(&model)
        if options.precision == .bfloat16 { head = head?.withBFloat16Products() }
        return (try InferenceSession(model: model, options: options, label: label(path)), head)
    }

    /// Loads the recognition network without its final Softmax (see `logits`).
    public static func session(path: String, options: SessionOptions) throws(ONNXError) -> InferenceSession {
        try InferenceSession(model: withoutSoftmax(path), options: options, label: label(path))
    }

    /// The model at `path` with a final Softmax (the graph's output) removed.
    static func withoutSoftmax(_ path: String) throws(ONNXError) -> ONNXModel {
        var model = try ONNXModel(contentsOf: path)
        var graph = model.graph
        if let last = graph.nodes.last, last.opType == "Softmax", graph.outputs == last.outputs, let input = last.inputs.first {
            graph.nodes.removeLast()
            graph.outputs = [input]
            model.graph = graph
        }
        return model
    }

    static func label(_ path: String) -> String { String(path.split(separator: "/").last ?? Substring(path)) }

    /// Softmax of one frame's logits (what the full network outputs), for tests and reports.
    public static func softmax(_ row: UnsafePointer<Float>, classes: Int) -> [Float] {
        var m = row[0]
        for c in 1..<classes { m = max(m, row[c]) }
        var e = (0..<classes).map { expf(row[$0] - m) }
        let s = e.reduce(0, +)
        for c in e.indices { e[c] /= s }
        return e
    }

    /// CTC greedy decoding of one line's logits ([frames, classes]): the best class per frame,
    /// repeats collapsed, blanks dropped; the best class's probability is 1 / Σ exp(l − l_max).
    func decode(_ p: UnsafePointer<Float>, frames: Int, classes: Int, cropPixelsPerFrame: Double) -> LineReading {
        let best = LinearHead.best(logits: p, rows: frames, classes: classes)
        return collapse(best.classes[...], best.probabilities[...], cropPixelsPerFrame: cropPixelsPerFrame)
    }

    /// CTC greedy decoding from each frame's best class and probability.
    func collapse(_ best: ArraySlice<Int32>, _ bestP: ArraySlice<Float>, cropPixelsPerFrame: Double) -> LineReading {
        let best = Array(best), bestP = Array(bestP)
        let frames = best.count
        var chars: [CharacterTiming] = []
        for t in 0..<frames {
            let c = Int(best[t])
            if t > 0 && Int(best[t - 1]) == c {
                if c != 0, !chars.isEmpty { chars[chars.count - 1].lastFrame = t }
                continue
            }
            guard c != 0 else { continue }
            chars.append(CharacterTiming(character: c < keys.count ? keys[c] : "", firstFrame: t, lastFrame: t,
                                         probability: Double(bestP[t])))
        }
        // rapidocr rounds each probability to 5 digits before averaging.
        let confidence = chars.isEmpty ? 0 : chars.map { ($0.probability * 1e5).rounded() / 1e5 }.reduce(0, +) / Double(chars.count)
        return LineReading(text: chars.map(\.character).joined(), confidence: confidence, characters: chars,
                           cropPixelsPerFrame: cropPixelsPerFrame)
    }
}

/// The per-line results of `TextRecognizer.runLines`, written by its worker threads.
private final class LineResults: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<Tensor, ONNXError>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<Tensor, ONNXError>) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }

    func take() -> [Result<Tensor, ONNXError>?] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}
