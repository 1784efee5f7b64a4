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

    /// With several threads, each line runs through the whole network on one thread, the
    /// page's lines side by side (claimed in batch order), rather than each batch through each
    /// step on all threads. A line's activations (a few MB) stay in its core's caches where a
    /// batch's (6x as large) do not, no step waits for the other thread, and scaling the lines
    /// is shared out too (10 receipts, bfloat16: recognition CPU time -14 %, README). No step
    /// mixes a batch's lines, so the values are the batch run's where that run gives each
    /// thread whole lines (an even batch on two threads); an odd batch's run splits a line's
    /// columns between the threads, and OpenBLAS rounds the two smaller products differently.
    /// Run alone, a line's values depend on nothing else. `SKIFF_LINE_PARALLEL=0` turns it off.
    public var runsLinesApart = ProcessInfo.processInfo.environment["SKIFF_LINE_PARALLEL"] != "0"

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
        // Batches of lines of similar shape, each padded to its widest line (rapidocr's).
        var batches: [(lines: [Int], width: Int)] = []
        var start = 0
        while start < order.count {
            let lines = Array(order[start..<min(start + batchSize, order.count)])
            start += batchSize
            let maxRatio = max(Double(minimumWidth) / 48.0, lines.map { ratios[$0] }.max() ?? 0)
            batches.append((lines, max(8, Int(Double(Self.height) * maxRatio))))
        }
        var results = [LineReading?](repeating: nil, count: crops.count)
        let threads = session.options.threads
        if runsLinesApart, threads > 1, crops.count > 1 {
            // Every line a job of its own, scaled and run through the network on one thread.
            let jobs = batches.flatMap { batch in batch.lines.map { (line: $0, width: batch.width) } }
            let session = self.session
            let lines = try parallelMap(jobs.count, threads: threads) { j throws(PPOCRError) in
                let input = prepare([jobs[j].line], crops: crops, ratios: ratios, width: jobs[j].width)
                do throws(ONNXError) {
                    return (features: try session.run(input.tensor, threads: 1), input: input)
                } catch { throw .runtime(error) }
            }
            var offset = 0
            for batch in batches {
                let part = lines[offset..<(offset + batch.lines.count)]
                offset += batch.lines.count
                let features = try Self.join(part.map(\.features))
                let (best, frames) = try bestClasses(ofFeatures: features, lines: batch.lines.count)
                decode(batch.lines, contentWidths: part.flatMap(\.input.contentWidths), blanks: part.flatMap(\.input.blanks),
                       width: batch.width, best: best, frames: frames, crops: crops, into: &results)
            }
        } else {
            for batch in batches {
                let input = prepare(batch.lines, crops: crops, ratios: ratios, width: batch.width)
                let (best, frames) = try bestClasses(input.tensor)
                decode(batch.lines, contentWidths: input.contentWidths, blanks: input.blanks,
                       width: batch.width, best: best, frames: frames, crops: crops, into: &results)
            }
        }
        return results.map { $0 ?? LineReading(text: "", confidence: 0, characters: [], cropPixelsPerFrame: 1) }
    }

    /// Lines scaled to height 48 and padded to `width` ([n, 3, 48, width]), with each line's
    /// scaled width and its blank columns.
    struct PreparedLines {
        var tensor: Tensor
        var contentWidths: [Int]
        var blanks: [[ClosedRange<Int>]]
    }

    func prepare(_ lines: [Int], crops: [PixelBuffer], ratios: [Double], width: Int) -> PreparedLines {
        let h = Self.height
        var data = [Float](repeating: 0, count: lines.count * 3 * h * width)
        var contentWidths: [Int] = []
        var blanks: [[ClosedRange<Int>]] = []
        data.withUnsafeMutableBufferPointer { p in
            for (k, index) in lines.enumerated() {
                let wanted = Int((Double(h) * ratios[index]).rounded(.up))
                let resizedWidth = max(1, min(wanted, width))
                contentWidths.append(resizedWidth)
                let line = ImageOps.resize(crops[index], width: resizedWidth, height: h)
                blanks.append(blankColumnRuns(line))
                ImageOps.normalize(line, into: p.baseAddress! + k * 3 * h * width, stride: width, scaling: .recognition)
            }
        }
        return PreparedLines(tensor: Tensor(shape: [lines.count, 3, h, width], floats: data),
                             contentWidths: contentWidths, blanks: blanks)
    }

    /// CTC decoding of a batch's best classes into `results`.
    func decode(_ lines: [Int], contentWidths: [Int], blanks: [[ClosedRange<Int>]], width: Int,
                best: (classes: [Int32], probabilities: [Float]), frames: Int, crops: [PixelBuffer],
                into results: inout [LineReading?]) {
        for (k, index) in lines.enumerated() {
            let pixelsPerFrame = Double(width) / Double(frames) * Double(crops[index].width) / Double(contentWidths[k])
            var reading = collapse(best.classes[(k * frames)..<((k + 1) * frames)],
                                   best.probabilities[(k * frames)..<((k + 1) * frames)],
                                   cropPixelsPerFrame: pixelsPerFrame)
            reading.inputPixelsPerFrame = Double(width) / Double(frames)
            reading.blankColumns = blanks[k]
            results[index] = reading
        }
    }

    /// Per-line network outputs ([1, frames, dim] each) as one batch [n, frames, dim].
    static func join(_ outputs: [Tensor]) throws(PPOCRError) -> Tensor {
        guard let first = outputs.first, outputs.allSatisfy({ $0.shape == first.shape && $0.isFloat }),
              first.shape.count == 3 else {
            throw .runtime(.badInput("recognition lines gave outputs of different shapes"))
        }
        var joined: [Float] = []
        joined.reserveCapacity(first.count * outputs.count)
        for t in outputs { joined += t.floats }
        return Tensor(shape: [outputs.count] + first.shape.dropFirst(), floats: joined)
    }

    /// Each frame's best class and its probability for lines of one width ([n, 3, 48, width]),
    /// frame-major per line, and the number of frames per line.
    func bestClasses(_ input: Tensor) throws(PPOCRError) -> (best: (classes: [Int32], probabilities: [Float]), frames: Int) {
        let out: Tensor
        do { out = try session.run(input) } catch { throw .runtime(error) }
        return try bestClasses(ofFeatures: out, lines: input.shape.first ?? 0)
    }

    /// Each frame's best class and its probability from the network's output for `lines` lines.
    func bestClasses(ofFeatures out: Tensor, lines: Int) throws(PPOCRError) -> (best: (classes: [Int32], probabilities: [Float]), frames: Int) {
        let threads = session.options.threads
        do {
            guard out.shape.count == 3, out.shape[0] == lines else {
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

/// body(0..<count) on `threads` threads, indices claimed in order; the results in index order.
/// The first error (by index) is thrown once all have run.
func parallelMap<T>(_ count: Int, threads: Int, _ body: (Int) throws(PPOCRError) -> T) throws(PPOCRError) -> [T] {
    let slots = ParallelSlots<T>(count: count)
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, count))) { _ in
            while let index = slots.claim() {
                do throws(PPOCRError) { slots.set(index, .success(try box.value(index))) } catch { slots.set(index, .failure(error)) }
            }
        }
    }
    var values: [T] = []
    values.reserveCapacity(count)
    for result in slots.take() {
        switch result {
        case let .success(value)?: values.append(value)
        case let .failure(error)?: throw error
        case nil: throw .runtime(.badInput("a parallel job produced no result"))
        }
    }
    return values
}

/// body(0..<count) on up to `threads` threads, each index once (bands of an image).
func parallelFor(_ count: Int, threads: Int, _ body: (Int) -> Void) {
    guard threads > 1, count > 1 else {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
    }
}

/// A value handed to worker threads that only read it (the job closures of `parallelMap`).
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The results of `parallelMap`, claimed and written by its worker threads.
private final class ParallelSlots<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var values: [Result<T, PPOCRError>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func claim() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < values.count else { return nil }
        next += 1
        return next - 1
    }

    func set(_ index: Int, _ value: Result<T, PPOCRError>) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }

    func take() -> [Result<T, PPOCRError>?] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}
