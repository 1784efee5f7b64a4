import ArgumentParser
import Foundation
import Skiff

/// `skiff bench ppocr`: PP-OCRv5 on Skiff's runtime next to Tesseract on a receipt set with line
/// ground truth (SROIE layout: img/*.jpg, box/*.csv, key/*.json), in one run.
struct PPOCRBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppocr",
        abstract: "PP-OCR vs Tesseract on receipts: page CER, bag-of-words recall, totals found, s/page, parity.",
        discussion: """
            Reads DIR/img/*.jpg with both engines. Page CER (casefold profile: SROIE's transcripts are mostly upper case) compares the page text, as \
            produced, with the ground-truth lines of DIR/box/*.csv in file order; bag-of-words recall \
            is the share of ground-truth words (split at spaces, upper-cased, counted with multiplicity) found in \
            the output; 'total present' counts pages whose text contains key/*.json's total. With \
            --reference (tools/make_ppocr_fixtures.py --dev), the reference's boxes are recognised \
            again and the line texts compared with onnxruntime + rapidocr's.
            """)

    @Argument(help: "A receipt folder (img/, box/, key/).")
    var directory: String = "../shared/data/sroie-dev"

    @Option(help: "Use at most this many pages.")
    var pages: Int = 1000

    @Option(help: "rapidocr's lines for the same images (JSON written by tools/make_ppocr_fixtures.py --dev).")
    var reference: String?

    @Option(help: "PP-OCR threads.")
    var threads: Int = 2

    @Option(help: "Detection side limit.")
    var limitSide: Int = 736

    @Option(help: "Detection limit type: min (scale small pages up) or max (scale large pages down).")
    var limitType: String = "min"

    @Option(help: "Page text layout scored as produced: boxes (each detected box its own line, in row order) or rows (boxes on one row joined).")
    var lines: PPOCRLineLayout = .boxes

    @Option(help: "Pages with a longer side are scaled down to it for detection first (rapidocr's max_side_len; 0: off, as the --reference file was recorded; detection is compared with it only then).")
    var maxSide: Int = 2000

    @Option(help: "Centre distance, in median character pitches, above which a space is inserted.")
    var spaceGap: Double = 1.8

    @Option(help: "An ink-free gap of this many line heights between two characters is a space.")
    var blankGap: Double = 0.23

    @Option(help: "Between two digits, a gap is a space only where their centres are more than this many digit pitches apart.")
    var digitSpacing: Double = 1.4

    @Option(help: "Write each page's PP-OCR text to DIR/<name>.txt (for looking at errors).")
    var texts: String?

    @Option(help: "Recognition: pad lines to at least this width at height 48 (rapidocr: 320).")
    var minWidth: Int = 320

    @Option(help: "Convolution products: float32, or bfloat16 (AVX512-BF16 CPUs; fp32 elsewhere).")
    var precision: ProductPrecision = .float32

    @Option(help: "Lines per recognition batch.")
    var batch: Int = 6

    @Option(help: "Tesseract page segmentation mode.")
    var psm: Int = 3

    @Option(help: "List at most this many lines that differ from the reference.")
    var misses: Int = 8

    @Flag(help: "Print each page whose text lacks the total, with the lines that hold it once spaces are ignored.")
    var showMissing = false

    @Flag(help: "Skip Tesseract.")
    var skipTesseract = false

    @Option(help: "Also read the pages this many at a time (--threads / jobs threads each, as `skiff ocr` reads a folder) and print that pass's time per page; 1: off.")
    var jobs: Int = 1

    func run() async throws {
        let root = URL(fileURLWithPath: directory)
        let images = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("img").path)) ?? [])
            .filter { $0.hasSuffix(".jpg") }.sorted().prefix(pages)
        guard !images.isEmpty else {
            printError("skiff bench ppocr: no images in \(root.appendingPathComponent("img").path)")
            throw ExitCode(1)
        }
        let ppConfig = PPOCRConfiguration(threads: threads, limitSideLength: limitSide,
                                          limitType: limitType == "max" ? .max : .min, recognitionBatch: batch,
                                          recognitionMinimumWidth: minWidth,
                                          spaceGap: spaceGap)
        var config = ppConfig
        config.rowLines = lines == .rows
        config.maxSideLength = maxSide
        config.blankGap = blankGap
        config.digitSpacing = digitSpacing
        config.precision = precision
        let pp = try PPOCREngine(configuration: config)
        let tesseract = skipTesseract ? nil : try TesseractEngine(configuration: TesseractConfiguration(pageSegmentationMode: psm))
        emit("graphs: detection \(pp.detector.stepCount) steps, recognition \(pp.recognizer.session.stepCount) steps (after folding and fusion)")
        var refPages: [String: [[String: Any]]] = [:]
        if let reference {
            let data = try Data(contentsOf: URL(fileURLWithPath: reference))
            refPages = (try JSONSerialization.jsonObject(with: data) as? [String: [[String: Any]]]) ?? [:]
        }
        emit("skiff bench ppocr: \(images.count) pages of \(directory), PP-OCR \(threads) threads, lines \(lines.rawValue), det limit \(limitType) \(limitSide), max side \(maxSide), batch \(batch), min width \(minWidth), space gap \(spaceGap), blank gap \(blankGap), digit spacing \(digitSpacing), products \(precision.rawValue)\(precision == .bfloat16 && !ProductPrecision.bfloat16IsAvailable ? " (no AVX512-BF16: fp32)" : ""); \(ProcessInfo.processInfo.activeProcessorCount) cores, load \(loadAverage())")

        struct Tally {
            var cer: [Double] = []
            var recall: (found: Int, total: Int) = (0, 0)
            var totals = 0
            var seconds = 0.0
            var cpu = 0.0
            var detectCPU = 0.0
            var readCPU = 0.0
        }
        var ppT = Tally(), tessT = Tally()
        var otherLayoutCER: [Double] = []
        // The onnxruntime + rapidocr pipeline's own page text (its kept lines, grouped into rows
        // by the same rule, texts as it read them), scored the same way: the comparison the
        // goal is set against, in this scorer.
        var refRowCER: [Double] = [], refBoxCER: [Double] = [], refOwnCER: [Double] = []
        var refRecall = (found: 0, total: 0), refTotals = 0
        var detExact = 0
        var parity = (equal: 0, lines: 0), allParity = (equal: 0, lines: 0), detMatch = (matched: 0, lines: 0)
        var parityMisses: [String] = []
        let scorer = TextScorer(profile: .casefold)
        let loader = DocumentLoader()
        var pageTexts: [String] = []
        for name in images {
            let id = String(name.dropLast(4))
            let gt = try groundTruth(root.appendingPathComponent("box/\(id).csv"))
            let total = keyTotal(root.appendingPathComponent("key/\(id).json"))
            let url = root.appendingPathComponent("img/\(name)")
            func measure(_ tally: inout Tally, _ label: String, _ body: (PixelBuffer, inout Tally) throws -> String) throws {
                let clock = ContinuousClock(), start = clock.now, cpu0 = cpuSeconds()
                let image = try loader.load(contentsOf: url).pages[0].image
                let text = try body(image, &tally)
                tally.seconds += (clock.now - start).seconds
                tally.cpu += cpuSeconds() - cpu0
                tally.cer.append(scorer.score(reference: gt, hypothesis: text).cer)
                let r = bagRecall(reference: gt, hypothesis: text)
                tally.recall.found += r.found
                tally.recall.total += r.total
                if let total, text.contains(total) { tally.totals += 1 }
                else if let total, showMissing {
                    // Where the total went: the lines holding it once spaces are ignored.
                    let near = text.split(separator: "\n").filter { $0.replacingOccurrences(of: " ", with: "").contains(total) }
                    emit("  \(label) \(id): total \(total) missing; \(near.isEmpty ? "not even without spaces" : near.map { "'\($0)'" }.joined(separator: ", "))")
                }
            }
            var detected: [TextBox] = []
            try measure(&ppT, "ppocr") { image, tally in
                let c0 = cpuSeconds()
                detected = try pp.detect(image)
                let c1 = cpuSeconds()
                let lines = try pp.read(image, boxes: detected).filter { $0.reading.confidence >= config.textScore }
                tally.detectCPU += c1 - c0
                tally.readCPU += cpuSeconds() - c1
                // The text as the engine writes it (config.rowLines), and the other layout beside it.
                var layout = PageLayout(spaceGap: config.spaceGap, blankGap: config.blankGap, digitSpacing: config.digitSpacing)
                layout.rowLines = config.rowLines
                let text = layout.page(lines, page: 0, width: image.width, height: image.height, dpi: nil).text
                layout.rowLines = !config.rowLines
                let otherText = layout.page(lines, page: 0, width: image.width, height: image.height, dpi: nil).text
                otherLayoutCER.append(scorer.score(reference: gt, hypothesis: otherText).cer)
                if let texts {
                    try FileManager.default.createDirectory(atPath: texts, withIntermediateDirectories: true)
                    try text.write(toFile: "\(texts)/\(id).txt", atomically: true, encoding: .utf8)
                    try otherText.write(toFile: "\(texts)/\(id).\(config.rowLines ? "boxes" : "rows").txt", atomically: true, encoding: .utf8)
                }
                pageTexts.append(text)
                return text
            }
            if let tesseract { try measure(&tessT, "tesseract") { image, _ in try tesseract.recognize(image, page: 0).text } }
            if let lines = refPages[name] {
                let image = try loader.load(contentsOf: url).pages[0].image
                let boxes = lines.compactMap { line -> TextBox? in
                    guard let pts = line["box"] as? [[Double]], pts.count == 4 else { return nil }
                    return TextBox(corners: pts.map { Point(x: $0[0], y: $0[1]) }, score: 1)
                }
                // All of rapidocr's boxes, the ones it dropped too: they share recognition
                // batches (and so padding) with the kept lines.
                let keptLines = zip(lines, boxes).compactMap { line, box -> PPOCRLine? in
                    guard line["kept"] as? Bool ?? true, let text = line["text"] as? String else { return nil }
                    return PPOCRLine(box: box, reading: LineReading(text: text, confidence: 1))
                }
                let refRows = PageLayout(spaceGap: config.spaceGap, blankGap: config.blankGap, digitSpacing: config.digitSpacing).rows(keptLines)
                let refRowText = refRows.map { $0.map { $0.reading.text }.joined(separator: " ") }.joined(separator: "\n")
                let refBoxText = refRows.flatMap { $0.map { $0.reading.text } }.joined(separator: "\n")
                refOwnCER.append(scorer.score(reference: gt, hypothesis: keptLines.map { $0.reading.text }.joined(separator: "\n")).cer)
                refRowCER.append(scorer.score(reference: gt, hypothesis: refRowText).cer)
                refBoxCER.append(scorer.score(reference: gt, hypothesis: refBoxText).cer)
                let rr = bagRecall(reference: gt, hypothesis: refRowText)
                refRecall.found += rr.found
                refRecall.total += rr.total
                if let total, refRowText.contains(total) { refTotals += 1 }
                let ours = try pp.read(image, boxes: boxes)
                for (line, read) in zip(lines, ours) {
                    let same = read.reading.text == line["text"] as? String
                    allParity.lines += 1
                    if same { allParity.equal += 1 }
                    guard line["kept"] as? Bool ?? true else { continue }
                    parity.lines += 1
                    if same { parity.equal += 1 }
                    else if parityMisses.count < misses { parityMisses.append("\(id): '\(line["text"] as? String ?? "")' vs '\(read.reading.text)'") }
                }
                if config.limitSideLength == 736, config.limitType == .min, config.maxSideLength == 0 {
                    for b in boxes {
                        detMatch.lines += 1
                        if detected.contains(where: { d in zip(d.corners, b.corners).allSatisfy { abs($0.x - $1.x) <= 2 && abs($0.y - $1.y) <= 2 } }) {
                            detMatch.matched += 1
                        }
                        if detected.contains(where: { $0.corners == b.corners }) { detExact += 1 }
                    }
                }
            }
        }
        func line(_ label: String, _ t: Tally) -> String {
            let cer = t.cer.reduce(0, +) / Double(max(t.cer.count, 1))
            let recall = Double(t.recall.found) / Double(max(t.recall.total, 1))
            return label.padding(toLength: 22, withPad: " ", startingAt: 0)
                + String(format: "page CER %.3f   BoW recall %.3f   total present %d/%d   %.2f s/page wall, %.2f CPU s/page",
                         cer, recall, t.totals, t.cer.count, t.seconds / Double(max(t.cer.count, 1)),
                         t.cpu / Double(max(t.cer.count, 1)))
        }
        emit(line("ppocr (skiff runtime)", ppT))
        // The label is interpolated, not passed for %@ (not safe for a Swift String everywhere).
        let otherLayout = config.rowLines ? "each detected box its own line (--lines boxes)"
            : "boxes on one row joined into one line (--lines rows, what extraction reads)"
        emit("  ppocr page CER with \(otherLayout): "
             + String(format: "%.3f", otherLayoutCER.reduce(0, +) / Double(max(otherLayoutCER.count, 1))))
        emit(String(format: "  ppocr CPU s/page: detection %.2f, crops + recognition %.2f",
                    ppT.detectCPU / Double(max(ppT.cer.count, 1)), ppT.readCPU / Double(max(ppT.cer.count, 1))))
        if tesseract != nil {
            emit(line("tesseract psm \(psm)", tessT))
            emit(String(format: "time ratio ppocr/tesseract: wall %.2f, CPU %.2f", ppT.seconds / max(tessT.seconds, 1e-9),
                        ppT.cpu / max(tessT.cpu, 1e-9)))
        }
        if !refRowCER.isEmpty {
            emit(String(format: "onnxruntime+rapidocr (reference file) page CER %.3f (its own lines and order), %.3f (our rows), %.3f (each box its own line, our order)   BoW recall %.3f   total present %d/%d",
                        refOwnCER.reduce(0, +) / Double(refOwnCER.count),
                        refRowCER.reduce(0, +) / Double(refRowCER.count), refBoxCER.reduce(0, +) / Double(refBoxCER.count),
                        Double(refRecall.found) / Double(max(refRecall.total, 1)), refTotals, refRowCER.count))
        }
        if parity.lines > 0 {
            emit(String(format: "parity vs onnxruntime+rapidocr (same boxes): %d/%d lines equal (%.1f%%)",
                        parity.equal, parity.lines, 100 * Double(parity.equal) / Double(parity.lines)))
            if allParity.lines > parity.lines {
                emit(String(format: "  all boxes, the lines rapidocr drops (empty, score < 0.5) too: %d/%d equal (%.1f%%)",
                            allParity.equal, allParity.lines, 100 * Double(allParity.equal) / Double(allParity.lines)))
            }
            for miss in parityMisses { emit("  differs: \(miss)") }
        }
        if detMatch.lines > 0 {
            emit(String(format: "detection: %d/%d reference boxes found within 2 px (%.1f%%)",
                        detMatch.matched, detMatch.lines, 100 * Double(detMatch.matched) / Double(detMatch.lines)))
            emit(String(format: "  the same corners exactly: %d/%d (%.1f%%)", detExact, detMatch.lines,
                        100 * Double(detExact) / Double(detMatch.lines)))
        }
        if jobs > 1 {
            try await throughput(images.map { root.appendingPathComponent("img/\($0)") }, configuration: config, expected: pageTexts)
        }
        // SKIFF_PROFILE=1: per-operator times of the runs above (and of the --reference re-reads).
        if SessionProfiler.isEnabled { emit(SessionProfiler.shared.report()) }
    }

    /// Reads the pages `jobs` at a time on an engine with `threads / jobs` threads, timing the
    /// whole pass: pages per second of a folder, where one page at a time leaves a core idle in
    /// its small steps. Each page's text is checked against the one-page-at-a-time pass.
    func throughput(_ urls: [URL], configuration: PPOCRConfiguration, expected: [String]) async throws {
        var perJob = configuration
        perJob.threads = max(1, threads / jobs)
        let engine = try PPOCREngine(configuration: perJob)
        var results = [Result<String, any Error>?](repeating: nil, count: urls.count)
        let clock = ContinuousClock(), start = clock.now, cpu0 = cpuSeconds()
        await forEachConcurrently(urls.count, width: jobs, operation: { index in
            Result { try engine.recognize(try DocumentLoader().load(contentsOf: urls[index]).pages[0].image, page: 0).text }
        }, report: { index, result in results[index] = result })
        let seconds = (clock.now - start).seconds, cpu = cpuSeconds() - cpu0
        var same = 0
        for (index, result) in results.enumerated() {
            switch result {
            case let .success(text)?: if index < expected.count, text == expected[index] { same += 1 }
            case let .failure(error)?: throw error
            case nil: break
            }
        }
        emit(String(format: "ppocr, %d pages at a time x %d thread%@: %.2f s/page wall, %.2f CPU s/page; %d/%d pages with the same text as one at a time",
                    jobs, perJob.threads, perJob.threads == 1 ? "" : "s", seconds / Double(max(urls.count, 1)),
                    cpu / Double(max(urls.count, 1)), same, urls.count))
    }

    /// The box csv's transcripts in file order, one per line (x1,y1,...,y4,TEXT; TEXT may hold commas).
    func groundTruth(_ url: URL) throws -> String {
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(whereSeparator: \.isNewline).compactMap { row -> String? in
            var rest = Substring(row)
            for _ in 0..<8 {
                guard let comma = rest.firstIndex(of: ",") else { return nil }
                rest = rest[rest.index(after: comma)...]
            }
            return String(rest)
        }.joined(separator: "\n")
    }

    func keyTotal(_ url: URL) -> String? {
        guard let data = try? Data(contentsOf: url),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["total"] as? String
    }

    func bagRecall(reference: String, hypothesis: String) -> (found: Int, total: Int) {
        var bag: [Substring: Int] = [:]
        for w in hypothesis.uppercased().split(whereSeparator: \.isWhitespace) { bag[w, default: 0] += 1 }
        var found = 0, total = 0
        for w in reference.uppercased().split(whereSeparator: \.isWhitespace) {
            total += 1
            if let n = bag[w], n > 0 { found += 1; bag[w] = n - 1 }
        }
        return (found, total)
    }

    /// This process's user + system CPU time: figures that hold on a shared machine, where
    /// wall time depends on the others' load.
    func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
    }

    func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
    }
}
